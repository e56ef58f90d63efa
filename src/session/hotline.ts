/**
 * Hotline mode: the caller hears their own phrases, masked. One stream, one masked direction
 * whose playout goes back into the same stream. The demo flow, and the flow every test can drive.
 *
 * Barge-in: speaker and listener are one person, so continuing a turn never clears what is
 * still playing; a new turn (after the profile's hotlineTurnGapMs of silence) clears a backlog
 * longer than PLAYOUT_CLEAR_BACKLOG_MS.
 */
import type { Logger } from '../observability/logger.js';
import { MaskedDirection } from '../pipeline/masked-direction.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import type { MediaStreamConnection } from '../twilio/connection.js';
import type { StartInfo } from '../twilio/messages.js';
import type { AudioFrame } from '../voice/converter.js';
import type { ActiveCall } from './manager.js';
import { VoiceKeys } from './voice-keys.js';

export class HotlineCall implements ActiveCall {
  readonly direction: MaskedDirection;
  private closed = false;
  private readonly keys: VoiceKeys;

  constructor(
    private readonly conn: MediaStreamConnection,
    start: StartInfo,
    voiceId: string,
    private readonly deps: { profile: MaskingProfile; log: Logger },
  ) {
    const { profile, log } = deps;
    this.keys = new VoiceKeys(profile.voiceCycle, voiceId);
    const turnGap = profile.hotlineTurnGapMs;
    this.direction = new MaskedDirection({
      converter: profile.converter,
      sink: conn,
      playout: profile.playout,
      voiceId,
      callKey: start.callSid,
      log,
      ...(turnGap > 0 && {
        onSpeechStart: (ev) => {
          if (ev.gapMs >= turnGap) this.direction.playout.bargeIn();
        },
      }),
    });
  }

  onMedia(frame: AudioFrame): void {
    this.direction.push(frame);
  }

  onMark(name: string): void {
    this.direction.onMark(name);
  }

  /** '*' tries the next voice, '#' returns to the call's own (embedded engine presets). */
  onDtmf(digit: string): void {
    const voice = this.keys.press(digit, this.direction.voiceId);
    if (!voice) return;
    this.direction.setVoice(voice);
    this.deps.log.info({ voice }, 'caller changed voice');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.direction.close();
    this.conn.close();
  }
}
