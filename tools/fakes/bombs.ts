/**
 * Hostile audio files ("decompression bombs"), written from the container specifications, not
 * by the product: tiny files whose framing declares far more audio, channels or frames than
 * their bytes hold. Used by the fuzz test, the corpus (test/fixtures/fuzz-corpus/) and
 * scripts/probe-decode-bombs.ts.
 *
 *   Ogg: RFC 3533 (pages, lacing, CRC-32 0x04C11DB7);  Ogg Opus: RFC 7845 (OpusHead, OpusTags);
 *   Opus packets: RFC 6716 §3 (TOC byte, code 3, self-delimiting framing, Appendix B);
 *   WebM: the Matroska/EBML specification (SimpleBlock lacing);  FLAC: RFC 9639.
 */

const OGG_CRC = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? ((r << 1) ^ 0x04c11db7) >>> 0 : (r << 1) >>> 0;
    t[i] = r >>> 0;
  }
  return t;
})();

function oggCrc(b: Uint8Array): number {
  let c = 0;
  for (const x of b) c = ((c << 8) ^ OGG_CRC[((c >>> 24) ^ x) & 0xff]!) >>> 0;
  return c >>> 0;
}

/** One Ogg page holding whole packets (each under 255 × 255 bytes), with its CRC. */
export function oggPage(packets: Uint8Array[], opts: { serial?: number; seq: number; granule: number; bos?: boolean; eos?: boolean }): Uint8Array {
  const lacing: number[] = [];
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
  }
  if (lacing.length > 255) throw new Error('too many segments for one page');
  const body = packets.reduce((s, p) => s + p.length, 0);
  const page = new Uint8Array(27 + lacing.length + body);
  const dv = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53, 0, (opts.bos ? 2 : 0) | (opts.eos ? 4 : 0)]);
  dv.setUint32(6, opts.granule % 2 ** 32, true);
  dv.setUint32(10, Math.floor(opts.granule / 2 ** 32), true);
  dv.setUint32(14, opts.serial ?? 0x564d, true);
  dv.setUint32(18, opts.seq, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  let o = 27 + lacing.length;
  for (const p of packets) {
    page.set(p, o);
    o += p.length;
  }
  dv.setUint32(22, oggCrc(page), true);
  return page;
}

/** Recomputes every page's CRC (after a mutation), leaving anything that is not a page. */
export function fixOggCrcs(b: Uint8Array): Uint8Array {
  const out = b.slice();
  let o = 0;
  while (o + 27 <= out.length && out[o] === 0x4f && out[o + 1] === 0x67 && out[o + 2] === 0x67 && out[o + 3] === 0x53) {
    const segs = out[o + 26]!;
    let size = 0;
    for (let i = 0; i < segs && o + 27 + i < out.length; i++) size += out[o + 27 + i]!;
    const end = Math.min(out.length, o + 27 + segs + size);
    out.fill(0, o + 22, o + 26);
    new DataView(out.buffer).setUint32(o + 22, oggCrc(out.subarray(o, end)), true);
    o = end;
  }
  return out;
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** OpusHead (RFC 7845 §5.1): family 0 for 1-2 channels, else family 255 with one stream per channel. */
export function opusHead(channels: number, family = channels > 2 ? 255 : 0): Uint8Array {
  const extra = family === 0 ? [] : [channels, 0, ...Array.from({ length: channels }, (_, i) => i)];
  const h = new Uint8Array(19 + extra.length);
  h.set([...'OpusHead'].map((c) => c.charCodeAt(0)));
  h[8] = 1;
  h[9] = channels;
  new DataView(h.buffer).setUint16(10, 312, true);
  new DataView(h.buffer).setUint32(12, 48000, true);
  h[18] = family;
  h.set(extra, 19);
  return h;
}

const opusTags = () => concat([new TextEncoder().encode('OpusTags'), new Uint8Array([4, 0, 0, 0, 0x62, 0x6f, 0x6d, 0x62, 0, 0, 0, 0])]);

/**
 * An Opus packet of 120 ms in 2 bytes per stream: code 3 (TOC 0xFB: CELT 20 ms frames), six
 * frames of length 0 (lost frames: the decoder conceals them). Streams but the last are
 * self-delimited (RFC 6716 Appendix B: one extra length byte).
 */
export function opus120msPacket(streams: number): Uint8Array {
  const out: number[] = [];
  for (let s = 0; s < streams - 1; s++) out.push(0xfb, 0x06, 0x00);
  out.push(0xfb, 0x06);
  return new Uint8Array(out);
}

/** Ogg Opus of `pages` pages of 255 packets of 120 ms each (30.6 s a page) for `channels` channels. */
export function oggOpusBomb(channels: number, pages: number): Uint8Array {
  const streams = channels > 2 ? channels : 1;
  const parts = [oggPage([opusHead(channels)], { seq: 0, granule: 0, bos: true }), oggPage([opusTags()], { seq: 1, granule: 0 })];
  const packet = opus120msPacket(streams);
  for (let p = 0; p < pages; p++) {
    parts.push(oggPage(Array.from({ length: 255 }, () => packet), { seq: 2 + p, granule: (p + 1) * 255 * 5760, eos: p === pages - 1 }));
  }
  return concat(parts);
}

/**
 * Ogg Opus whose audio packets are empty (one lacing byte each, no data): a decoder conceals
 * each as a lost packet of up to 120 ms on every channel. `packets` of them, 255 a page.
 */
export function oggOpusEmptyPackets(channels: number, packets: number): Uint8Array {
  const parts = [oggPage([opusHead(channels)], { seq: 0, granule: 0, bos: true }), oggPage([opusTags()], { seq: 1, granule: 0 })];
  for (let p = 0, left = packets; left > 0; p++) {
    const n = Math.min(255, left);
    left -= n;
    parts.push(oggPage(Array.from({ length: n }, () => new Uint8Array(0)), { seq: 2 + p, granule: (packets - left) * 960, eos: left === 0 }));
  }
  return concat(parts);
}

/** The 64-channel Ogg Opus of the issue: 949 bytes, some 600 empty packets (up to 72 s on 64 channels). */
export const oggOpus64Channels = () => oggOpusEmptyPackets(64, 595);

// --- EBML / WebM

function ebmlSize(n: number): number[] {
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out: number[] = [];
      let v = n;
      for (let i = len - 1; i >= 0; i--) {
        out[i] = v & 0xff;
        v = Math.floor(v / 256);
      }
      out[0]! |= 0x80 >> (len - 1);
      return out;
    }
  }
  throw new Error('too large');
}

function idBytes(id: number): number[] {
  const out: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return out;
}

const el = (id: number, body: Uint8Array | number[]) => concat([new Uint8Array([...idBytes(id), ...ebmlSize(body.length)]), body instanceof Uint8Array ? body : new Uint8Array(body)]);
const UNKNOWN = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/** A WebM header (EBML, an unknown-size Segment and Cluster, one Opus track) for blocks to follow. */
export function webmHead(channels = 1): Uint8Array {
  const f = new DataView(new ArrayBuffer(8));
  f.setFloat64(0, 48000);
  const header = el(0x1a45dfa3, concat([el(0x4286, [1]), el(0x42f7, [1]), el(0x42f2, [4]), el(0x42f3, [8]), el(0x4282, new TextEncoder().encode('webm')), el(0x4287, [4]), el(0x4285, [2])]));
  const track = el(
    0xae,
    concat([el(0xd7, [1]), el(0x83, [2]), el(0x86, new TextEncoder().encode('A_OPUS')), el(0x63a2, opusHead(channels, channels > 2 ? 1 : 0)), el(0xe1, concat([el(0xb5, new Uint8Array(f.buffer)), el(0x9f, [channels])]))]),
  );
  return concat([header, new Uint8Array([0x18, 0x53, 0x80, 0x67, ...UNKNOWN]), el(0x1654ae6b, track), new Uint8Array([0x1f, 0x43, 0xb6, 0x75, ...UNKNOWN]), el(0xe7, [0])]);
}

/** A SimpleBlock element (track 1, timecode 0) with `flags` (lacing in bits 1-2) and `body` after them. */
export const simpleBlock = (flags: number, body: number[] | Uint8Array) => el(0xa3, [0x81, 0x00, 0x00, flags, ...body]);

/** Joins byte arrays. */
export const joinBytes = concat;

/**
 * The WebM of the issue: SimpleBlocks of 7 bytes with fixed-size lacing, each declaring 256
 * frames of which 255 are empty (so about 28 empty frames per byte of file).
 */
export function webmLacedEmpty(bytes: number): Uint8Array {
  const block = el(0xa3, [0x81, 0x00, 0x00, 0x84, 0xff, 0xfc, 0x00]);
  return concat([webmHead(), ...Array.from({ length: Math.ceil(bytes / block.length) }, () => block)]);
}

/** WebM whose blocks lace 256 one-byte Opus packets of 60 ms each (15 s of audio per 263 bytes). */
export function webmLacedTiny(bytes: number): Uint8Array {
  const block = el(0xa3, [0x81, 0x00, 0x00, 0x84, 0xff, ...new Array<number>(256).fill(0x18)]);
  return concat([webmHead(), ...Array.from({ length: Math.ceil(bytes / block.length) }, () => block)]);
}

// --- FLAC

function flacCrc8(b: number[]): number {
  let c = 0;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function flacCrc16(b: number[]): number {
  let c = 0;
  for (const x of b) {
    c ^= x << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/** The UTF-8-like coding of a frame number (RFC 9639 §9.1.5). */
function codedNumber(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  let bytes = 2;
  while (n >= 2 ** (5 * bytes + 1)) bytes++;
  let v = n;
  for (let i = bytes - 1; i > 0; i--) {
    out[i] = 0x80 | (v & 0x3f);
    v = Math.floor(v / 64);
  }
  out[0] = ((0xff << (8 - bytes)) & 0xff) | v;
  return out;
}

/**
 * FLAC of `frames` frames, each 65,535 samples on `channels` channels as CONSTANT subframes (3
 * bytes a channel): some 2 MB of decoded float samples per 34-byte frame at 8 channels.
 */
/** Frame-header codes of the sample rates the bomb takes (a frame that defers to STREAMINFO is not read by every decoder). */
const RATE_CODES: Record<number, number> = { 8000: 4, 16000: 5, 22050: 6, 24000: 7, 32000: 8, 44100: 9, 48000: 10 };

export function flacBomb(frames: number, opts: { channels?: number; rate?: number } = {}): Uint8Array {
  const channels = opts.channels ?? 8;
  const rate = opts.rate ?? 8000;
  const block = 65535;
  const si = new Uint8Array(34);
  const dv = new DataView(si.buffer);
  dv.setUint16(0, block);
  dv.setUint16(2, block);
  // rate (20 bits), channels - 1 (3), bits - 1 (5), total samples (36): 0 = unknown
  si[10] = (rate >> 12) & 0xff;
  si[11] = (rate >> 4) & 0xff;
  si[12] = ((rate & 0x0f) << 4) | ((channels - 1) << 1) | 0;
  si[13] = 15 << 4; // 16-bit
  const parts: Uint8Array[] = [new TextEncoder().encode('fLaC'), new Uint8Array([0x80, 0, 0, 34]), si];
  for (let i = 0; i < frames; i++) {
    const head = [0xff, 0xf8, 0x70 | RATE_CODES[rate]!, ((channels - 1) << 4) | (4 << 1), ...codedNumber(i), (block - 1) >> 8, (block - 1) & 0xff];
    head.push(flacCrc8(head));
    const frame = [...head];
    for (let c = 0; c < channels; c++) frame.push(0x00, 0x10, 0x00); // CONSTANT subframe, value 0x1000
    const crc = flacCrc16(frame);
    frame.push(crc >> 8, crc & 0xff);
    parts.push(new Uint8Array(frame));
  }
  return concat(parts);
}

/** A WAV header declaring `channels` channels of 16-bit PCM, with `frames` frames of silence. */
export function wavChannels(channels: number, frames: number): Uint8Array {
  const data = frames * channels * 2;
  const b = new Uint8Array(44 + data);
  const dv = new DataView(b.buffer);
  b.set(new TextEncoder().encode('RIFF'), 0);
  dv.setUint32(4, 36 + data, true);
  b.set(new TextEncoder().encode('WAVEfmt '), 8);
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true);
  dv.setUint16(22, channels, true);
  dv.setUint32(24, 16000, true);
  dv.setUint32(28, 16000 * channels * 2, true);
  dv.setUint16(32, channels * 2, true);
  dv.setUint16(34, 16, true);
  b.set(new TextEncoder().encode('data'), 36);
  dv.setUint32(40, data, true);
  return b;
}

/** The bombs by name, at the sizes the issue measured (and the corpus keeps). */
export const BOMBS: Record<string, () => Uint8Array> = {
  'webm-laced-empty-140k': () => webmLacedEmpty(140 * 1024),
  'webm-laced-tiny-140k': () => webmLacedTiny(140 * 1024),
  'ogg-opus-64ch': oggOpus64Channels,
  'ogg-opus-8ch-empty-packets': () => oggOpusEmptyPackets(8, 2000),
  'ogg-opus-8ch-275s': () => oggOpusBomb(8, 9),
  'ogg-opus-mono-1h': () => oggOpusBomb(1, 118),
  'flac-8ch-constant-1k': () => flacBomb(30),
  'flac-8ch-constant-48k-1k': () => flacBomb(30, { rate: 48000 }),
  'flac-8ch-constant-64k': () => flacBomb(1900),
  'wav-64ch': () => wavChannels(64, 100),
};

/** The bombs at the sizes the fuzz corpus keeps (test/fixtures/fuzz-corpus/, scripts/make-fuzz-corpus.ts). */
export const CORPUS_BOMBS: Record<string, () => Uint8Array> = {
  'webm-laced-empty-16k': () => webmLacedEmpty(16 * 1024),
  'webm-laced-tiny-16k': () => webmLacedTiny(16 * 1024),
  'ogg-opus-64ch': oggOpus64Channels,
  'ogg-opus-8ch-empty-packets': () => oggOpusEmptyPackets(8, 2000),
  'ogg-opus-mono-10min': () => oggOpusBomb(1, 20),
  'flac-8ch-constant-1k': () => flacBomb(30),
  'flac-8ch-constant-8k': () => flacBomb(240),
  'wav-64ch': () => wavChannels(64, 100),
};
