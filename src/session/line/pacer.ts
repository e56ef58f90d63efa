/**
 * Paces outbound calls: Twilio places one outbound call per second per account by default
 * (more on request), and queues the excess, so ringing many agents at once starts the last ones
 * late. next() resolves when the next call may be placed, in the order asked.
 */
/** What dialling needs of a pacer: this process's, or the fleet's through Redis (src/fleet/). */
export interface CallPacer {
  /** Resolves when the next outbound call may be placed. */
  next(): Promise<void>;
  close(): void;
}

export class Pacer implements CallPacer {
  private nextAt = 0;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly perSecond: number) {}

  next(): Promise<void> {
    const now = performance.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + 1000 / this.perSecond;
    if (at <= now) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, at - now);
      this.timers.add(t);
    });
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
