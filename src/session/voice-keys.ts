/**
 * Voice selection by phone keys: '*' moves to the next voice of a list, '#' returns to the
 * call's own voice. Used by hotline callers and by agents on two-party lines.
 */
export class VoiceKeys {
  private index = -1;

  constructor(
    private readonly cycle: readonly string[],
    private readonly home: string,
  ) {}

  get available(): boolean {
    return this.cycle.length > 0;
  }

  /** The voice a key selects, or undefined when the key means nothing here. */
  press(digit: string, current: string): string | undefined {
    if (this.cycle.length === 0) return undefined;
    if (digit === '#') {
      this.index = this.cycle.indexOf(this.home);
      return this.home;
    }
    if (digit !== '*') return undefined;
    if (this.index < 0) this.index = this.cycle.indexOf(current);
    this.index = (this.index + 1) % this.cycle.length;
    return this.cycle[this.index];
  }
}
