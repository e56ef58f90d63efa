/** Seeded noise for unvoiced excitation: same seed, same sequence, same output bytes. */

/** mulberry32: a small, fast 32-bit PRNG (public domain). */
export class SeededNoise {
  private state: number;
  private spare = 0;
  private hasSpare = false;

  constructor(seed = 0) {
    this.state = (seed >>> 0) ^ 0x9e3779b9;
  }

  /** Uniform in (0, 1). */
  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  }

  /** Standard normal (Box-Muller, pairs cached). */
  gaussian(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    this.hasSpare = true;
    return r * Math.cos(a);
  }
}
