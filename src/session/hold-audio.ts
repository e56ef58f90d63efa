/**
 * Audio a caller hears while nobody is talking to them (ringback while agents are dialled): a
 * slot on the caller's connection clock, topped up a cycle at a time. Stopping it clears the
 * clock (what is queued here and what Twilio holds), so what plays next starts at once.
 */
import type { MediaOut } from '../twilio/media-out.js';
import type { MaskedAudio } from '../voice/masked.js';

export class HoldAudio {
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly output: MediaOut,
    cycle: MaskedAudio,
    cycleMs: number,
  ) {
    const slot = output.openSlot('hold');
    const top = () => {
      if (output.backlogMs() < cycleMs / 2) slot.write(cycle);
    };
    top();
    this.timer = setInterval(top, Math.min(1000, cycleMs / 4));
    this.timer.unref();
  }

  /** Stops the hold audio and clears it from the connection (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.output.clear();
  }
}
