/**
 * Audio a caller hears while nobody is talking to them (waiting in a line's queue, while
 * agents are dialled): a slot on the caller's connection clock, topped up a piece at a time
 * from a loop (hold music), with an optional message every so often. Stopping it
 * clears the clock (what is queued here and what Twilio holds), so what plays next starts at once.
 */
import type { MediaOut } from '../twilio/media-out.js';
import { maskedSlice, type MaskedAudio } from '../voice/masked.js';

export interface HoldSound {
  /** Played in a loop. */
  loop: MaskedAudio;
  /** Played instead of the loop every `messageEveryMs` (the first after one interval). */
  message?: MaskedAudio;
  messageEveryMs?: number;
}

/** How much is queued ahead at most (8 kHz mu-law bytes: 1.5 s). */
const AHEAD_BYTES = 12_000;
/** Size of each piece of the loop written (1 s). */
const PIECE_BYTES = 8000;

export class HoldAudio {
  private readonly timer: NodeJS.Timeout;
  private stopped = false;
  private pos = 0;
  private nextMessageAt: number;

  constructor(
    private readonly output: MediaOut,
    private readonly sound: HoldSound,
    private readonly now: () => number = () => performance.now(),
  ) {
    const slot = output.openSlot('hold');
    this.nextMessageAt = now() + (sound.messageEveryMs ?? Infinity);
    const top = () => {
      while (!this.stopped && output.backlogMs() * 8 < AHEAD_BYTES) slot.write(this.next());
    };
    top();
    this.timer = setInterval(top, 250);
    this.timer.unref();
  }

  private next(): MaskedAudio {
    const { loop, message } = this.sound;
    if (message && this.now() >= this.nextMessageAt) {
      this.nextMessageAt = this.now() + message.length / 8 + (this.sound.messageEveryMs ?? Infinity);
      return message;
    }
    const end = Math.min(loop.length, this.pos + PIECE_BYTES);
    const piece = maskedSlice(loop, this.pos, end);
    this.pos = end >= loop.length ? 0 : end;
    return piece;
  }

  /** Stops the hold audio and clears it from the connection (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.output.clear();
  }
}
