/** Ogg page writing (RFC 3533): one logical stream, packets laced into pages with CRC-32. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    t[i] = r >>> 0;
  }
  return t;
})();

export function oggCrc(b: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < b.length; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b[i]!) & 0xff]!) >>> 0;
  return crc >>> 0;
}

export const OGG_BOS = 2;
export const OGG_EOS = 4;

export class OggPageWriter {
  private seq = 0;

  constructor(private readonly serial: number) {}

  /**
   * One page holding whole packets (at most 255 lacing values, i.e. about 64 KB): `granule`
   * is the granule position after the page's last packet.
   */
  page(packets: readonly Uint8Array[], granule: bigint, flags = 0): Uint8Array {
    const lacing: number[] = [];
    for (const p of packets) {
      for (let n = p.length; ; n -= 255) {
        lacing.push(Math.min(255, n));
        if (n < 255) break;
      }
    }
    if (lacing.length > 255) throw new Error('too many packets for one Ogg page');
    const bodyLen = packets.reduce((s, p) => s + p.length, 0);
    const out = new Uint8Array(27 + lacing.length + bodyLen);
    const dv = new DataView(out.buffer);
    out.set([0x4f, 0x67, 0x67, 0x53], 0); // OggS
    out[4] = 0;
    out[5] = flags;
    dv.setBigInt64(6, granule, true);
    dv.setUint32(14, this.serial, true);
    dv.setUint32(18, this.seq++, true);
    out[26] = lacing.length;
    out.set(lacing, 27);
    let o = 27 + lacing.length;
    for (const p of packets) {
      out.set(p, o);
      o += p.length;
    }
    dv.setUint32(22, oggCrc(out), true);
    return out;
  }
}
