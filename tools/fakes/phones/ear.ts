/**
 * Twilio's playback buffer on a phone's side of a stream: media the server sends is queued and
 * played in order at 8000 bytes a second; a mark is echoed once the audio queued before it has
 * played; clear drops the queued audio and echoes the pending marks at once. What played is
 * written on a timeline from the stream's start (0xFF, mu-law silence, where nothing played).
 */
const SILENCE = 0xff;

type Item = { media: Uint8Array; off: number } | { mark: string };

export class Ear {
  private queue: Item[] = [];
  /** Next sample to play (8 kHz, from stream start). */
  private playhead = 0;
  private buf = new Uint8Array(8000 * 4).fill(SILENCE);
  private len = 0;

  constructor(private readonly echo: (name: string, cleared: boolean) => void) {}

  media(bytes: Uint8Array, atMs: number): void {
    this.advanceTo(atMs);
    // Audio arriving on an idle buffer starts playing now, not where the last audio ended.
    if (this.queue.length === 0) this.playhead = Math.max(this.playhead, Math.floor(atMs * 8));
    this.queue.push({ media: bytes, off: 0 });
  }

  mark(name: string, atMs: number): void {
    this.advanceTo(atMs);
    if (this.queue.length === 0) this.echo(name, false);
    else this.queue.push({ mark: name });
  }

  clear(atMs: number): void {
    this.advanceTo(atMs);
    for (const item of this.queue) if ('mark' in item) this.echo(item.mark, true);
    this.queue = [];
  }

  /** Plays everything due by atMs. */
  advanceTo(atMs: number): void {
    const target = Math.floor(atMs * 8);
    while (this.queue.length) {
      const head = this.queue[0]!;
      if ('mark' in head) {
        this.queue.shift();
        this.echo(head.mark, false);
        continue;
      }
      if (this.playhead >= target) break;
      const n = Math.min(head.media.length - head.off, target - this.playhead);
      this.write(this.playhead, head.media.subarray(head.off, head.off + n));
      this.playhead += n;
      head.off += n;
      if (head.off >= head.media.length) this.queue.shift();
    }
  }

  /** What played up to atMs. */
  heard(atMs: number): Uint8Array {
    this.advanceTo(atMs);
    return this.buf.slice(0, Math.max(this.len, this.playhead));
  }

  private write(at: number, bytes: Uint8Array): void {
    const need = at + bytes.length;
    if (need > this.buf.length) {
      const bigger = new Uint8Array(Math.max(need, this.buf.length * 2)).fill(SILENCE);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf.set(bytes, at);
    this.len = Math.max(this.len, need);
  }
}
