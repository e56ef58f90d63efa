/**
 * The call's timeline: one or more MediaTaps (one per connection clock) mixed into interleaved
 * 8 kHz mu-law frames, one channel per tap, sample-aligned on the performance.now() timeline.
 *
 * A clock reports audio when it is sent, up to its lead ahead of real time, and may clear what
 * it sent before it plays. So audio is held as pending until real time (less a margin) has
 * passed it; only then is it taken for the file, and a clear can no longer reach it. Where a
 * channel has nothing, it is silence (0xFF): the file runs in real time whoever speaks.
 */
import { MULAW_SILENCE } from '../audio/mulaw.js';
import type { MediaTap } from '../twilio/media-out.js';

const SAMPLES_PER_MS = 8;
/** A chunk reported within this many samples before the channel's end was rounding: it is placed after it. */
const ROUNDING_SAMPLES = 2;

class Channel implements MediaTap {
  /** Pending samples, from the timeline's `taken` index on. */
  buf = new Uint8Array(8000);
  len = 0;
  /** Samples that arrived after their time was taken (late clock): dropped. */
  lateSamples = 0;

  constructor(private readonly line: Timeline) {}

  played(mulaw: Uint8Array, atMs: number): void {
    this.line.place(this, mulaw, atMs);
  }

  cleared(atMs: number): void {
    const at = Math.max(0, this.line.index(atMs));
    if (at < this.len) this.len = at;
  }

  /** @internal Room for `end` pending samples, silence between the old end and `from`. */
  reserve(from: number, end: number): void {
    if (end > this.buf.length) {
      const next = new Uint8Array(Math.max(end, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.len));
      this.buf = next;
    }
    if (from > this.len) this.buf.fill(MULAW_SILENCE, this.len, from);
  }
}

export class Timeline {
  private readonly chans: Channel[];
  /** Samples already taken (written out), from t0. */
  private taken = 0;
  private closed = false;

  constructor(
    channels: number,
    /** performance.now() of sample 0. */
    private readonly t0: number,
    /** How far behind real time taking stays: a clear at "now" can still remove what follows. */
    private readonly marginMs = 40,
  ) {
    this.chans = Array.from({ length: channels }, () => new Channel(this));
  }

  get channels(): number {
    return this.chans.length;
  }

  /** The tap of channel `i` (0-based): give it to a MediaOut. */
  tap(i: number): MediaTap {
    const c = this.chans[i];
    if (!c) throw new RangeError(`no channel ${i}`);
    return c;
  }

  /** Samples taken so far (the file's length in frames). */
  get frames(): number {
    return this.taken;
  }

  /** Samples that came too late to place (0 unless a clock ran behind the margin). */
  get lateSamples(): number {
    return this.chans.reduce((n, c) => n + c.lateSamples, 0);
  }

  /** @internal Pending index of time `atMs`. */
  index(atMs: number): number {
    return Math.round((atMs - this.t0) * SAMPLES_PER_MS) - this.taken;
  }

  /** @internal */
  place(c: Channel, mulaw: Uint8Array, atMs: number): void {
    if (this.closed || mulaw.length === 0) return;
    let at = this.index(atMs);
    if (at < c.len && c.len - at <= ROUNDING_SAMPLES) at = c.len;
    if (at < 0) {
      c.lateSamples += Math.min(-at, mulaw.length);
      if (-at >= mulaw.length) return;
      mulaw = mulaw.subarray(-at);
      at = 0;
    }
    const end = at + mulaw.length;
    c.reserve(at, end);
    c.buf.set(mulaw, at);
    if (end > c.len) c.len = end;
  }

  /** Interleaved frames of everything up to `nowMs` less the margin that was not taken yet. */
  take(nowMs: number): Uint8Array {
    const upTo = Math.floor((nowMs - this.marginMs - this.t0) * SAMPLES_PER_MS);
    return this.takeFrames(upTo - this.taken);
  }

  /**
   * The call ended: everything up to `nowMs`, and what was already sent beyond it (the far end
   * had it when the call ended). Nothing is taken after this.
   */
  finish(nowMs: number): Uint8Array {
    if (this.closed) return new Uint8Array(0);
    const upTo = Math.floor((nowMs - this.t0) * SAMPLES_PER_MS) - this.taken;
    const pending = Math.max(0, ...this.chans.map((c) => c.len));
    const out = this.takeFrames(Math.max(upTo, pending));
    this.closed = true;
    return out;
  }

  private takeFrames(n: number): Uint8Array {
    if (this.closed || n <= 0) return new Uint8Array(0);
    const k = this.chans.length;
    const out = new Uint8Array(n * k).fill(MULAW_SILENCE);
    for (let ch = 0; ch < k; ch++) {
      const c = this.chans[ch]!;
      const have = Math.min(n, c.len);
      const b = c.buf;
      if (k === 1) out.set(b.subarray(0, have));
      else for (let i = 0; i < have; i++) out[i * k + ch] = b[i]!;
      if (c.len > n) {
        b.copyWithin(0, n, c.len);
        c.len -= n;
      } else c.len = 0;
    }
    this.taken += n;
    return out;
  }
}
