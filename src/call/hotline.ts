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

export class HotlineCall {
  readonly playout: Playout;
  readonly pipeline: MaskingPipeline;
  private closed = false;

  constructor(
    private readonly conn: MediaStreamConnection,
    start: StartInfo,
    voiceId: string,
    deps: { config: Config; masking: Masking; log: Logger },
  ) {
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

  onDtmf(_digit: string): void {
    // Hotline mode acts on no keys.
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pipeline.close();
    this.playout.close();
    this.conn.close();
  }
}
