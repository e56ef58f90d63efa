/**
 * Tempo change without a pitch change (WSOLA: waveform-similarity overlap-add), streaming:
 * 20 ms Hann frames laid down every 10 ms of output, each taken from near where the tempo puts
 * it in the input, at the offset (within ±5 ms) whose waveform best continues the frame before,
 * so voiced speech keeps its pitch periods intact. speed > 1 is faster (shorter output).
 * Joined, the output of push() and end() is exactly round(input length / speed) samples.
 */
const FRAME = 320; // 20 ms at 16 kHz
const HOP = FRAME / 2; // output hop: Hann at 50% overlap sums to 1
const TOLERANCE = 80; // ±5 ms of search around the nominal position

const HANN = Float32Array.from({ length: FRAME }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / FRAME));

export class TimeStretcher {
  /** Input not yet consumed; buf[0] is input sample `bufStart`. */
  private buf = new Float32Array(0);
  private bufStart = 0;
  private inTotal = 0;
  private outTotal = 0;
  private frames = 0;
  private prevPos = 0;
  private readonly ola = new Float32Array(FRAME);

  constructor(readonly speed: number) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`);
  }

  push(x: Int16Array): Int16Array {
    if (this.speed === 1) return this.count(x);
    const next = new Float32Array(this.buf.length + x.length);
    next.set(this.buf);
    next.set(x, this.buf.length);
    this.buf = next;
    this.inTotal += x.length;
    return this.run(false);
  }

  /** The rest, padded or trimmed so the whole output is round(input / speed) samples. */
  end(): Int16Array {
    const want = Math.round(this.inTotal / this.speed);
    if (this.speed === 1) return new Int16Array(0);
    const last = this.run(true);
    const tail = this.ola.subarray(0, FRAME - HOP);
    const out = new Int16Array(Math.max(0, want - (this.outTotal - last.length)));
    out.set(last.subarray(0, out.length));
    for (let i = last.length, j = 0; i < out.length && j < tail.length; i++, j++) out[i] = clip(tail[j]!);
    this.outTotal = want;
    return out;
  }

  private count(x: Int16Array): Int16Array {
    this.inTotal += x.length;
    this.outTotal += x.length;
    return x;
  }

  /** Input sample at absolute index i (zero outside what is held). */
  private at(i: number): number {
    const j = i - this.bufStart;
    return j >= 0 && j < this.buf.length ? this.buf[j]! : 0;
  }

  private run(final: boolean): Int16Array {
    const out: number[] = [];
    const want = Math.round(this.inTotal / this.speed);
    for (;;) {
      const nominal = Math.round(this.frames * HOP * this.speed);
      if (final ? nominal >= this.inTotal || this.outTotal + out.length >= want : nominal + TOLERANCE + FRAME > this.inTotal) break;
      // never past the last whole frame of input: the end is not padded with silence
      const pos = Math.max(0, Math.min(this.frames === 0 ? 0 : this.bestOffset(nominal), this.inTotal - FRAME));
      for (let i = 0; i < FRAME; i++) {
        // the very first frame starts at full level rather than fading in
        const w = this.frames === 0 && i < HOP ? 1 : HANN[i]!;
        this.ola[i]! += w * this.at(pos + i);
      }
      for (let i = 0; i < HOP; i++) out.push(clip(this.ola[i]!));
      this.ola.copyWithin(0, HOP);
      this.ola.fill(0, FRAME - HOP);
      this.prevPos = pos;
      this.frames++;
      this.trim();
    }
    this.outTotal += out.length;
    return Int16Array.from(out);
  }

  /** The start within ±TOLERANCE of nominal that best continues the previous frame. */
  private bestOffset(nominal: number): number {
    const natural = this.prevPos + HOP;
    let best = nominal;
    let bestScore = -Infinity;
    for (let d = -TOLERANCE; d <= TOLERANCE; d++) {
      const p = nominal + d;
      if (p < this.bufStart) continue;
      let dot = 0;
      let energy = 1e-9;
      for (let i = 0; i < HOP; i++) {
        const v = this.at(p + i);
        dot += v * this.at(natural + i);
        energy += v * v;
      }
      const score = dot / Math.sqrt(energy);
      if (score > bestScore) {
        bestScore = score;
        best = p;
      }
    }
    return best;
  }

  /** Drops input no later frame or search can reach. */
  private trim(): void {
    const nextNominal = Math.round(this.frames * HOP * this.speed);
    const keepFrom = Math.min(nextNominal - TOLERANCE, this.prevPos + HOP);
    const drop = keepFrom - this.bufStart;
    if (drop > 4096) {
      this.buf = this.buf.slice(drop);
      this.bufStart = keepFrom;
    }
  }
}

const clip = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v));
