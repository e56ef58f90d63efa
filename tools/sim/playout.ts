/**
 * Twilio's playback buffer, emulated on the call's timeline: media plays in order at 8000 bytes
 * a second, a mark is echoed when playback reaches it, clear empties the buffer and echoes the
 * pending marks at once. What was played is written to a "heard" timeline (0xFF where idle).
 *
 * Time is driven by the caller (advanceTo), so the same code serves real-time and virtual clocks.
 */
import { MULAW_SILENCE } from '../../src/audio/index.js';

export interface PlayedSegment {
  /** Sample offset on the heard timeline (8 kHz, from stream start). */
  start: number;
  end: number;
  /** Call time (ms) the media message carrying these bytes arrived. */
  arrivedAtMs: number;
}

export interface EchoedMark {
  name: string;
  sentAtMs: number;
  echoedAtMs: number;
  /** true when a clear flushed it rather than playback reaching it. */
  cleared: boolean;
}

type Item = { kind: 'media'; bytes: Uint8Array; off: number; arrivedAtMs: number } | { kind: 'mark'; name: string; sentAtMs: number };

export class PlayoutBuffer {
  private readonly queue: Item[] = [];
  private head = 0;
  /** Next sample to play, on the heard timeline. */
  private playhead = 0;
  private heardBuf = new Uint8Array(8000 * 10).fill(MULAW_SILENCE);
  readonly segments: PlayedSegment[] = [];
  readonly marks: EchoedMark[] = [];
  private queuedBytes = 0;

  constructor(private readonly onMark?: (m: EchoedMark) => void) {}

  /** Bytes waiting to be played. */
  get pendingBytes(): number {
    return this.queuedBytes;
  }

  get pendingMarks(): number {
    let n = 0;
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i]!.kind === 'mark') n++;
    return n;
  }

  get idle(): boolean {
    return this.head >= this.queue.length;
  }

  /** Plays everything due by atMs (call time). */
  advanceTo(atMs: number): void {
    const target = Math.floor(atMs * 8);
    for (;;) {
      const item = this.queue[this.head];
      if (!item) {
        if (this.playhead < target) this.playhead = target;
        break;
      }
      if (item.kind === 'mark') {
        this.head++;
        this.echo(item, this.playhead / 8, false);
        continue;
      }
      if (this.playhead >= target) break;
      const n = Math.min(item.bytes.length - item.off, target - this.playhead);
      this.write(item.bytes.subarray(item.off, item.off + n), item.arrivedAtMs);
      item.off += n;
      this.queuedBytes -= n;
      if (item.off >= item.bytes.length) this.head++;
    }
    this.compact();
  }

  /** Queues media that arrived at atMs (advance to atMs first, so idle time passes as silence). */
  media(bytes: Uint8Array, atMs: number): void {
    this.advanceTo(atMs);
    if (bytes.length === 0) return;
    this.queue.push({ kind: 'media', bytes, off: 0, arrivedAtMs: atMs });
    this.queuedBytes += bytes.length;
  }

  mark(name: string, atMs: number): void {
    this.advanceTo(atMs);
    this.queue.push({ kind: 'mark', name, sentAtMs: atMs });
    this.advanceTo(atMs); // echoes at once when nothing is queued before it
  }

  clear(atMs: number): void {
    this.advanceTo(atMs);
    for (let i = this.head; i < this.queue.length; i++) {
      const item = this.queue[i]!;
      if (item.kind === 'mark') this.echo(item, atMs, true);
    }
    this.queue.length = 0;
    this.head = 0;
    this.queuedBytes = 0;
  }

  /** What the caller heard from 0 to the playhead (copy). */
  heard(untilMs?: number): Uint8Array {
    const end = untilMs === undefined ? this.playhead : Math.floor(untilMs * 8);
    this.ensure(end);
    return this.heardBuf.slice(0, end);
  }

  private echo(item: { name: string; sentAtMs: number }, atMs: number, cleared: boolean): void {
    const m: EchoedMark = { name: item.name, sentAtMs: item.sentAtMs, echoedAtMs: Math.max(atMs, item.sentAtMs), cleared };
    this.marks.push(m);
    this.onMark?.(m);
  }

  private write(bytes: Uint8Array, arrivedAtMs: number): void {
    const start = this.playhead;
    this.ensure(start + bytes.length);
    this.heardBuf.set(bytes, start);
    this.playhead += bytes.length;
    const last = this.segments[this.segments.length - 1];
    if (last && last.end === start && last.arrivedAtMs === arrivedAtMs) last.end = this.playhead;
    else this.segments.push({ start, end: this.playhead, arrivedAtMs });
  }

  private ensure(n: number): void {
    if (n <= this.heardBuf.length) return;
    const next = new Uint8Array(Math.max(n, this.heardBuf.length * 2)).fill(MULAW_SILENCE);
    next.set(this.heardBuf);
    this.heardBuf = next;
  }

  private compact(): void {
    if (this.head > 256 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }
}
