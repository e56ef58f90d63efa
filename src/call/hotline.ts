/**
 * Hotline mode: the caller hears their own phrases, masked. One stream, one pipeline whose
 * playout goes back into the same stream. The demo flow, and the flow every test can drive.
 */
import type { Config } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { Playout, playoutOptionsFromConfig } from '../playout/playout.js';
import type { MediaStreamConnection } from '../twilio/stream.js';
import type { StartInfo } from '../twilio/messages.js';
import { segmenterOptionsFromConfig } from '../vad/index.js';
import type { Masking } from './masking.js';
import { MaskingPipeline } from './masking-pipeline.js';
import { VoiceKeys } from './voice-keys.js';

export class HotlineCall {
  readonly playout: Playout;
  readonly pipeline: MaskingPipeline;
  private closed = false;
  private readonly keys: VoiceKeys;
  private readonly log: Logger;

  constructor(
    private readonly conn: MediaStreamConnection,
    start: StartInfo,
    voiceId: string,
    deps: { config: Config; masking: Masking; log: Logger },
  ) {
    this.log = deps.log;
    this.keys = new VoiceKeys(deps.masking.voiceCycle, voiceId);
    this.playout = new Playout(conn, playoutOptionsFromConfig(deps.config), deps.log);
    this.pipeline = new MaskingPipeline({
      mode: deps.masking.mode(),
      segmenter: segmenterOptionsFromConfig(deps.config),
      playout: this.playout,
      voiceId,
      seed: deps.config.converter === 'elevenlabs' ? deps.config.ELEVENLABS_SEED : deps.config.LOCAL_SEED,
      callKey: start.callSid,
      log: deps.log,
    });
  }

  onMedia(payload: Uint8Array): void {
    this.pipeline.push(payload);
  }

  onMark(name: string): void {
    this.playout.onMarkEchoed(name);
  }

  /** '*' tries the next voice, '#' returns to the call's own (embedded engine presets). */
  onDtmf(digit: string): void {
    const voice = this.keys.press(digit, this.pipeline.currentVoice);
    if (!voice) return;
    this.pipeline.setVoice(voice);
    this.log.info({ voice }, 'caller changed voice');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipeline.close();
    this.playout.close();
    this.conn.close();
  }
}
