/**
 * Hotline mode: the caller hears their own phrases, masked. One stream, one call, one masked
 * direction writing into the same connection's clock. The demo flow, and the flow every test
 * can drive.
 *
 * Barge-in: speaker and listener are one person, so continuing a turn never clears what is
 * still playing; a new turn (after the profile's hotlineTurnGapMs of silence) clears a backlog
 * longer than PLAYOUT_CLEAR_BACKLOG_MS.
 */
import { MaskedDirection } from '../pipeline/masked-direction.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import type { MediaStreamConnection } from '../twilio/connection.js';
import type { AudioFrame } from '../twilio/media-in.js';
import type { CallSession } from './call-session.js';
import type { CallLeg } from './manager.js';
import { VoiceKeys } from './voice-keys.js';

export class HotlineCall implements CallLeg {
  readonly direction: MaskedDirection;
  readonly session: CallSession;
  private readonly keys: VoiceKeys;

  constructor(conn: MediaStreamConnection, voiceId: string, deps: { profile: MaskingProfile; session: CallSession }) {
    const { profile, session } = deps;
    this.session = session;
    this.keys = new VoiceKeys(profile.voiceCycle, voiceId);
    const output = conn.openOutput(profile.playout);
    const turnGap = profile.hotlineTurnGapMs;
    this.direction = new MaskedDirection({
      converter: profile.converter,
      output,
      voiceId,
      callKey: session.id,
      signal: session.signal,
      log: session.log,
      segmenter: profile.segmenter,
      ...(turnGap > 0 && {
        onSpeechStart: (ev) => {
          if (ev.gapMs >= turnGap) output.bargeIn();
        },
      }),
    });
    session.onClose(() => conn.close());
  }

  onMedia(frame: AudioFrame): void {
    this.direction.push(frame);
  }

  /** '*' tries the next voice, '#' returns to the call's own (embedded engine presets). */
  onDtmf(digit: string): void {
    const voice = this.keys.press(digit, this.direction.voiceId);
    if (!voice) return;
    this.direction.setVoice(voice);
    this.session.log.info({ voice }, 'caller changed voice');
  }

  close(): void {
    this.session.close('caller hung up');
  }
}
