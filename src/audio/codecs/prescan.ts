/**
 * What an encoded file may cost, read from its headers and framing before anything is decoded:
 * its channel count (more than MAX_CHANNELS is refused), the most audio each Ogg page, FLAC
 * frame or Opus packet can decode to, and from that an upper bound of the file's length. The
 * decoders are then fed slices cut at page or frame boundaries, each bounded in the samples it
 * can produce, so a file of tiny frames that each expand to much audio (a "bomb") never makes
 * one decoder call allocate more than a few MB, and an over-long one is refused unread.
 * Written from RFC 3533 (Ogg), RFC 7845 (Ogg Opus), RFC 6716 (Opus packets), the Vorbis I and
 * FLAC format specifications. Pure functions over bytes; nothing here decodes audio.
 */

/** More channels than this are refused; fewer are mixed down to mono. */
export const MAX_CHANNELS = 8;

/**
 * Decoded samples (per channel, times channels) one decoder call may produce, at most: 2 M
 * float samples are 8 MB. One page or frame is never split, so a single one larger than this
 * (up to 255 packets of 120 ms) still goes in one call.
 */
export const SLICE_OUTPUT_BUDGET = 2_000_000;

/** Why the file is refused before decoding (AudioDecodeError kinds). */
export class PrescanError extends Error {
  override name = 'PrescanError';
  constructor(
    readonly kind: 'unsupported' | 'corrupt' | 'truncated',
    message: string,
  ) {
    super(message);
  }
}

/** What the prescan learnt. */
export interface Prescan {
  channels: number;
  /** Source sample rate (Opus: 48 kHz, its decoding rate). */
  rate: number;
  /** Most samples per channel the file can decode to (undefined: not known). */
  maxSamples?: number;
  /** Offsets at which the bytes are cut into decoder calls (ascending, the last one the file's end). */
  slices: number[];
}

/** Samples per channel at 48 kHz in one Opus packet (RFC 6716 §3.1); undefined when malformed. */
export function opusPacketSamples(p: Uint8Array, o = 0, len = p.length - o): number | undefined {
  if (len < 1) return undefined;
  const toc = p[o]!;
  const config = toc >> 3;
  const frame = config < 12 ? [480, 960, 1920, 2880][config & 3]! : config < 16 ? [480, 960][config & 1]! : [120, 240, 480, 960][config & 3]!;
  const code = toc & 3;
  let count: number;
  if (code === 0) count = 1;
  else if (code !== 3) count = 2;
  else {
    if (len < 2) return undefined;
    count = p[o + 1]! & 0x3f;
  }
  const n = count * frame;
  return n === 0 || n > 5760 ? undefined : n;
}

interface OggPacketStart {
  /** Offset of the page holding the packet's first byte, and of the page after it. */
  page: number;
  pageEnd: number;
  /** Offset of the packet's first byte, and the bytes of it in this page (0: an empty packet). */
  at: number;
  len: number;
}

/**
 * Walks the complete Ogg pages, calling `packet` for each packet that starts in a page (with
 * its index within its logical stream: 0 is the stream's identification header, so a chained
 * or multiplexed file has each of its streams' headers checked), then `page` after each page.
 * A non-page ends the walk; returns the offset after the last complete page.
 */
function walkOgg(b: Uint8Array, packet: (p: OggPacketStart, index: number) => void, page: (start: number) => void): number {
  const streams = new Map<number, { index: number; open: boolean }>();
  let o = 0;
  while (o + 27 <= b.length) {
    if (b[o] !== 0x4f || b[o + 1] !== 0x67 || b[o + 2] !== 0x67 || b[o + 3] !== 0x53) break;
    const segs = b[o + 26]!;
    const body = o + 27 + segs;
    if (body > b.length) break;
    let size = 0;
    for (let i = 0; i < segs; i++) size += b[o + 27 + i]!;
    const end = body + size;
    if (end > b.length) break;
    const serial = (b[o + 14]! | (b[o + 15]! << 8) | (b[o + 16]! << 16) | (b[o + 17]! << 24)) >>> 0;
    const bos = (b[o + 5]! & 2) !== 0;
    let st = streams.get(serial);
    if (!st || bos) {
      st = { index: 0, open: false };
      streams.set(serial, st);
    }
    if ((b[o + 5]! & 1) === 0) st.open = false; // not a continuation: a packet left open is dropped
    let at = body;
    let start = -1;
    for (let i = 0; i < segs; i++) {
      const lace = b[o + 27 + i]!;
      if (!st.open) {
        start = at;
        st.open = true;
      }
      at += lace;
      if (lace < 255) {
        if (start >= 0) packet({ page: o, pageEnd: end, at: start, len: at - start }, st.index);
        st.index++;
        start = -1;
        st.open = false;
      }
    }
    if (start >= 0) packet({ page: o, pageEnd: end, at: start, len: at - start }, st.index); // continues on the next page
    page(o);
    o = end;
  }
  return o;
}

/** Cuts before a page or frame that would take a slice's output past SLICE_OUTPUT_BUDGET. */
class Slicer {
  private readonly cuts: number[] = [];
  private acc = 0;
  /** A unit (page, frame) starting at `start` that decodes to at most `samples` (times channels). */
  unit(start: number, samples: number): void {
    if (this.acc > 0 && this.acc + samples > SLICE_OUTPUT_BUDGET) {
      this.cuts.push(start);
      this.acc = 0;
    }
    this.acc += samples;
  }
  /** The cut offsets, the file's end last. */
  finish(length: number): number[] {
    return [...this.cuts.filter((x) => x > 0 && x < length), length];
  }
}

const channelError = (label: string, n: number) =>
  new PrescanError('unsupported', `the ${label} file has ${n} channels; this server accepts at most ${MAX_CHANNELS} (mixed down to mono)`);

function oggOpus(b: Uint8Array): Prescan {
  let channels = 0;
  let total = 0;
  let page = 0;
  const slicer = new Slicer();
  walkOgg(
    b,
    (p, i) => {
      if (i === 0) {
        // OpusHead: magic, version, channels, pre-skip, rate, gain, mapping family
        if (p.len < 19 || String.fromCharCode(...b.subarray(p.at, p.at + 8)) !== 'OpusHead') throw new PrescanError('corrupt', 'the Ogg Opus file does not start with an OpusHead header');
        if (b[p.at + 8]! >> 4 !== 0) throw new PrescanError('unsupported', `the Ogg Opus file has header version ${b[p.at + 8]}, which this server does not read`);
        const n = b[p.at + 9]!;
        const family = b[p.at + 18]!;
        if (n === 0) throw new PrescanError('corrupt', 'the Ogg Opus file declares 0 channels');
        if (n > MAX_CHANNELS) throw channelError('Ogg Opus', n);
        channels = Math.max(channels, n);
        if (family === 0 && n > 2) throw new PrescanError('corrupt', `the Ogg Opus file declares ${channels} channels with mapping family 0 (at most 2)`);
        if (family !== 0) {
          if (p.len < 21 + n) throw new PrescanError('corrupt', 'the Ogg Opus file has a truncated channel mapping table');
          const streams = b[p.at + 19]!;
          const coupled = b[p.at + 20]!;
          if (streams === 0 || coupled > streams || streams + coupled > 255) throw new PrescanError('corrupt', `the Ogg Opus file declares ${streams} streams (${coupled} coupled)`);
          for (let c = 0; c < n; c++) {
            const m = b[p.at + 21 + c]!;
            if (m !== 255 && m >= streams + coupled) throw new PrescanError('corrupt', 'the Ogg Opus file maps a channel to a stream it does not have');
          }
        }
        return;
      }
      if (i === 1) return; // OpusTags
      // an audio packet: its duration from its (first stream's) TOC; an empty or malformed one
      // is counted at the most a packet holds (the decoder's concealment may make as much)
      const n = p.len > 0 ? (opusPacketSamples(b, p.at, Math.min(p.len, p.pageEnd - p.at)) ?? 5760) : 5760;
      total += n;
      page += n * Math.max(1, channels);
    },
    (start) => {
      slicer.unit(start, page);
      page = 0;
    },
  );
  if (channels === 0) throw new PrescanError('corrupt', 'the Ogg Opus file holds no complete OpusHead page');
  return { channels, rate: 48000, maxSamples: total, slices: slicer.finish(b.length) };
}

function oggVorbis(b: Uint8Array): Prescan {
  let channels = 0;
  let rate = 0;
  let perPacket = 0;
  let page = 0;
  const slicer = new Slicer();
  walkOgg(
    b,
    (p, i) => {
      if (i === 0) {
        // identification header: type 1, "vorbis", version, channels, rate, bitrates, block sizes
        if (p.len < 30 || b[p.at] !== 1 || String.fromCharCode(...b.subarray(p.at + 1, p.at + 7)) !== 'vorbis') {
          throw new PrescanError('corrupt', 'the Ogg Vorbis file does not start with a Vorbis identification header');
        }
        const n = b[p.at + 11]!;
        const r = (b[p.at + 12]! | (b[p.at + 13]! << 8) | (b[p.at + 14]! << 16) | (b[p.at + 15]! << 24)) >>> 0;
        const b0 = b[p.at + 28]! & 15;
        const b1 = b[p.at + 28]! >> 4;
        if (n === 0) throw new PrescanError('corrupt', 'the Ogg Vorbis file declares 0 channels');
        if (n > MAX_CHANNELS) throw channelError('Ogg Vorbis', n);
        if (r === 0) throw new PrescanError('corrupt', 'the Ogg Vorbis file declares a sample rate of 0 Hz');
        if (b0 < 6 || b1 > 13 || b0 > b1) throw new PrescanError('corrupt', `the Ogg Vorbis file declares block sizes 2^${b0} and 2^${b1}`);
        channels = Math.max(channels, n);
        rate ||= r;
        perPacket = Math.max(perPacket, 2 ** b1 / 2);
        return;
      }
      if (i >= 3) page += perPacket * channels; // after the comment and setup headers
    },
    (start) => {
      slicer.unit(start, page);
      page = 0;
    },
  );
  if (channels === 0) throw new PrescanError('corrupt', 'the Ogg Vorbis file holds no complete identification header');
  // (packets times the largest block overstates the length several times: no bound to refuse on)
  return { channels, rate, slices: slicer.finish(b.length) };
}

export interface FlacInfo {
  rate: number;
  channels: number;
  bits: number;
  minBlock: number;
  maxBlock: number;
  total: number;
}

/** A STREAMINFO block's 34 bytes at o, checked. */
function streamInfo(b: Uint8Array, o: number): FlacInfo {
  if (o + 34 > b.length) throw new PrescanError('corrupt', 'the FLAC file ends inside its STREAMINFO header');
  const minBlock = (b[o]! << 8) | b[o + 1]!;
  const maxBlock = (b[o + 2]! << 8) | b[o + 3]!;
  const rate = (b[o + 10]! << 12) | (b[o + 11]! << 4) | (b[o + 12]! >> 4);
  const channels = ((b[o + 12]! >> 1) & 7) + 1;
  const bits = (((b[o + 12]! & 1) << 4) | (b[o + 13]! >> 4)) + 1;
  const total = (b[o + 13]! & 0x0f) * 2 ** 32 + ((b[o + 14]! << 24) >>> 0) + (b[o + 15]! << 16) + (b[o + 16]! << 8) + b[o + 17]!;
  if (rate === 0) throw new PrescanError('corrupt', 'the FLAC file declares a sample rate of 0 Hz');
  if (bits < 4) throw new PrescanError('corrupt', `the FLAC file declares ${bits}-bit samples`);
  if (minBlock < 16 || maxBlock < minBlock) throw new PrescanError('corrupt', `the FLAC file declares block sizes ${minBlock} to ${maxBlock}`);
  return { rate, channels, bits, minBlock, maxBlock, total };
}

const CRC8 = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    t[i] = c;
  }
  return t;
})();

/** A FLAC frame header at o: its block size and length, or undefined when not one (CRC-8 checked). */
export function flacFrameHeader(b: Uint8Array, o: number): { block: number; channels: number; length: number } | undefined {
  if (o + 6 > b.length || b[o] !== 0xff || (b[o + 1]! & 0xfe) !== 0xf8) return undefined;
  const bsCode = b[o + 2]! >> 4;
  const rateCode = b[o + 2]! & 15;
  const chCode = b[o + 3]! >> 4;
  const sizeCode = (b[o + 3]! >> 1) & 7;
  if (bsCode === 0 || rateCode === 15 || chCode > 10 || sizeCode === 3 || (b[o + 3]! & 1) !== 0) return undefined;
  let p = o + 4;
  // the UTF-8-like coded frame or sample number
  const first = b[p]!;
  let extra = 0;
  if (first >= 0x80) {
    if ((first & 0xe0) === 0xc0) extra = 1;
    else if ((first & 0xf0) === 0xe0) extra = 2;
    else if ((first & 0xf8) === 0xf0) extra = 3;
    else if ((first & 0xfc) === 0xf8) extra = 4;
    else if ((first & 0xfe) === 0xfc) extra = 5;
    else if (first === 0xfe) extra = 6;
    else return undefined;
  }
  p++;
  for (let i = 0; i < extra; i++, p++) if (p >= b.length || (b[p]! & 0xc0) !== 0x80) return undefined;
  let block: number;
  if (bsCode === 1) block = 192;
  else if (bsCode <= 5) block = 576 << (bsCode - 2);
  else if (bsCode === 6) block = (b[p++] ?? 0) + 1;
  else if (bsCode === 7) {
    block = (((b[p] ?? 0) << 8) | (b[p + 1] ?? 0)) + 1;
    p += 2;
  } else block = 256 << (bsCode - 8);
  if (rateCode === 12) p += 1;
  else if (rateCode === 13 || rateCode === 14) p += 2;
  if (p >= b.length) return undefined;
  let crc = 0;
  for (let i = o; i < p; i++) crc = CRC8[crc ^ b[i]!]!;
  if (crc !== b[p]) return undefined;
  return { block, channels: chCode < 8 ? chCode + 1 : 2, length: p + 1 - o };
}

function nativeFlac(b: Uint8Array, start: number): Prescan {
  // "fLaC", then metadata blocks, the first of them STREAMINFO
  let o = start + 4;
  if (o + 4 > b.length || (b[o]! & 0x7f) !== 0) throw new PrescanError('corrupt', 'the FLAC file does not begin with a STREAMINFO block');
  const info = streamInfo(b, o + 4);
  for (;;) {
    if (o + 4 > b.length) throw new PrescanError('truncated', 'the FLAC file is truncated: it ends inside its metadata (was the upload complete?)');
    const last = (b[o]! & 0x80) !== 0;
    o += 4 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
    if (last) break;
  }
  // every frame header (sync code, valid fields, CRC-8): its block size bounds what it decodes to
  const slicer = new Slicer();
  let total = 0;
  for (let i = o; i + 6 <= b.length; ) {
    const h = b[i] === 0xff ? flacFrameHeader(b, i) : undefined;
    if (!h) {
      i++;
      continue;
    }
    if (h.block <= info.maxBlock && h.channels === info.channels) total += h.block;
    slicer.unit(i, h.block * info.channels);
    i += h.length;
  }
  return { channels: info.channels, rate: info.rate, maxSamples: total, slices: slicer.finish(b.length) };
}

function oggFlac(b: Uint8Array): Prescan {
  let info: FlacInfo | undefined;
  let page = 0;
  const slicer = new Slicer();
  walkOgg(
    b,
    (p, i) => {
      if (i === 0) {
        // 0x7F "FLAC", version, header count, "fLaC", the STREAMINFO block's header, STREAMINFO
        if (p.len < 51 || b[p.at] !== 0x7f || String.fromCharCode(...b.subarray(p.at + 1, p.at + 5)) !== 'FLAC') {
          throw new PrescanError('corrupt', 'the Ogg FLAC file does not start with a FLAC mapping header');
        }
        const next = streamInfo(b, p.at + 17);
        info = info ? { ...next, channels: Math.max(info.channels, next.channels), maxBlock: Math.max(info.maxBlock, next.maxBlock) } : next;
        return;
      }
      if (info && p.len > 0 && b[p.at] === 0xff) page += info.maxBlock * info.channels;
    },
    (start) => {
      slicer.unit(start, page);
      page = 0;
    },
  );
  if (!info) throw new PrescanError('corrupt', 'the Ogg FLAC file holds no complete FLAC mapping header');
  return { channels: info.channels, rate: info.rate, slices: slicer.finish(b.length) };
}

/**
 * Checks an Ogg (Opus, Vorbis, FLAC) or native FLAC file's headers and plans its decoder
 * slices; throws PrescanError for a file refused unread. `flacAt`: where "fLaC" starts (after
 * an ID3 tag).
 */
export function prescan(b: Uint8Array, kind: 'ogg-opus' | 'ogg-vorbis' | 'ogg-flac' | 'flac', flacAt = 0): Prescan {
  switch (kind) {
    case 'ogg-opus':
      return oggOpus(b);
    case 'ogg-vorbis':
      return oggVorbis(b);
    case 'ogg-flac':
      return oggFlac(b);
    case 'flac':
      return nativeFlac(b, flacAt);
  }
}
