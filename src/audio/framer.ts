/** Re-frames a byte stream into fixed-size frames (Twilio frames are usually, not always, 160 bytes). */
export class Framer {
  private readonly buf: Uint8Array;
  private len = 0;

  constructor(readonly frameBytes: number) {
    this.buf = new Uint8Array(frameBytes);
  }

  /** Calls emit once per complete frame; each frame is a fresh copy. */
  push(data: Uint8Array, emit: (frame: Uint8Array) => void): void {
    let off = 0;
    if (this.len === 0 && data.length === this.frameBytes) return emit(data.slice());
    while (off < data.length) {
      const take = Math.min(this.frameBytes - this.len, data.length - off);
      this.buf.set(data.subarray(off, off + take), this.len);
      this.len += take;
      off += take;
      if (this.len === this.frameBytes) {
        emit(this.buf.slice());
        this.len = 0;
      }
    }
  }

  get pendingBytes(): number {
    return this.len;
  }
}
