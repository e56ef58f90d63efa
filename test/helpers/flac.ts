/** Test input: FLAC files written from the format's specification, not by the product. */

/** A minimal FLAC encoder (VERBATIM subframes, 16-bit mono, 8/16/22.05/44.1 kHz): enough to exercise the FLAC path. */
export function encodeFlac(samples: Int16Array, rate: 8000 | 16000 | 22050 | 44100): Uint8Array {
  const rateCode = { 8000: 0x4, 16000: 0x5, 22050: 0x6, 44100: 0x9 }[rate];
  const crc8 = (b: number[]) => {
    let c = 0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    }
    return c;
  };
  const crc16 = (b: number[]) => {
    let c = 0;
    for (const x of b) {
      c ^= x << 8;
      for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
    }
    return c;
  };
  const BLOCK = 4096;
  const out: number[] = [...Buffer.from('fLaC')];
  out.push(0x80, 0, 0, 34); // last metadata block, STREAMINFO, 34 bytes
  const si = Buffer.alloc(34);
  si.writeUInt16BE(BLOCK, 0);
  si.writeUInt16BE(BLOCK, 2);
  // 20 bits rate, 3 bits channels-1 (0), 5 bits bps-1 (15), 36 bits total samples
  const total = BigInt(samples.length);
  const packed = (BigInt(rate) << 44n) | (0n << 41n) | (15n << 36n) | total;
  si.writeBigUInt64BE(packed, 10);
  out.push(...si);
  for (let f = 0, off = 0; off < samples.length; f++, off += BLOCK) {
    const n = Math.min(BLOCK, samples.length - off);
    const frame: number[] = [0xff, 0xf8, 0x70 | rateCode, 0x08, f, ((n - 1) >> 8) & 0xff, (n - 1) & 0xff];
    frame.push(crc8(frame));
    frame.push(0x02); // subframe: VERBATIM, no wasted bits
    for (let i = 0; i < n; i++) {
      const v = samples[off + i]! & 0xffff;
      frame.push(v >> 8, v & 0xff);
    }
    const c = crc16(frame);
    frame.push(c >> 8, c & 0xff);
    out.push(...frame);
  }
  return new Uint8Array(out);
}
