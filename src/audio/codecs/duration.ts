/**
 * A file's duration from its container, without decoding it, where the container says it:
 * MP3 (its frames counted), native FLAC (STREAMINFO), Ogg Opus and Ogg Vorbis (the last page's
 * granule position). Used to answer /stream's headers (the character cost) and refuse an
 * over-long file before the audio is decoded. Undefined where the container does not say.
 */
import { id3Skip, isMpegFrameHeader, MPEG_RATES, mpegFrameLength, type Container } from './sniff.js';

/**
 * Bytes between frames (tags, junk) past which the frames are not counted: scanning them byte
 * by byte would hold the event loop (50 MB: some 150 ms); undefined then, and the file is
 * decoded before it is answered. An ID3v1 or APE tag is far smaller.
 */
const MAX_JUNK = 64 * 1024;

function mp3Seconds(b: Uint8Array): number | undefined {
  let o = id3Skip(b);
  let samples = 0;
  let rate = 0;
  let junk = 0;
  while (o + 4 <= b.length) {
    // between frames (a tag, junk): on to the next frame header, as a decoder resyncs
    if (!isMpegFrameHeader(b, o)) {
      if (++junk > MAX_JUNK) return undefined;
      o++;
      continue;
    }
    const len = mpegFrameLength(b, o);
    if (len === undefined || len < 4) return undefined;
    const v = (b[o + 1]! >> 3) & 3;
    const layer = 4 - ((b[o + 1]! >> 1) & 3);
    rate ||= MPEG_RATES[v]![(b[o + 2]! >> 2) & 3]!;
    // every frame, an encoder's Xing/Info frame too: the decoder (mpg123) outputs it as well
    samples += layer === 1 ? 384 : layer === 3 && v !== 3 ? 576 : 1152;
    o += len;
  }
  return rate ? samples / rate : undefined;
}

/** Native FLAC's STREAMINFO: sample rate and total samples (0: not stated). */
export function flacStreamInfo(b: Uint8Array): { rate: number; total: number } | undefined {
  const o = id3Skip(b);
  if (o + 42 > b.length || b[o] !== 0x66 || (b[o + 4]! & 0x7f) !== 0) return undefined; // fLaC, then STREAMINFO
  const s = o + 8;
  const rate = (b[s + 10]! << 12) | (b[s + 11]! << 4) | (b[s + 12]! >> 4);
  const total = (b[s + 13]! & 0x0f) * 2 ** 32 + ((b[s + 14]! << 24) >>> 0) + (b[s + 15]! << 16) + (b[s + 16]! << 8) + b[s + 17]!;
  return { rate, total };
}

function flacSeconds(b: Uint8Array): number | undefined {
  const info = flacStreamInfo(b);
  return info && info.rate > 0 && info.total > 0 ? info.total / info.rate : undefined;
}

/** The granule position of the last Ogg page (searched in the file's last 64 KB). */
function lastGranule(b: Uint8Array): number | undefined {
  for (let o = b.length - 27; o >= Math.max(0, b.length - 65536); o--) {
    if (b[o] === 0x4f && b[o + 1] === 0x67 && b[o + 2] === 0x67 && b[o + 3] === 0x53 && b[o + 4] === 0) {
      const v = new DataView(b.buffer, b.byteOffset + o + 6, 8);
      return v.getUint32(0, true) + v.getUint32(4, true) * 2 ** 32;
    }
  }
  return undefined;
}

/** Offset of an ASCII tag in the first 256 bytes. */
function tag(b: Uint8Array, t: string): number {
  outer: for (let i = 0; i + t.length <= Math.min(b.length, 256); i++) {
    for (let j = 0; j < t.length; j++) if (b[i + j] !== t.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

function oggSeconds(b: Uint8Array, codec: 'opus' | 'vorbis'): number | undefined {
  const g = lastGranule(b);
  if (g === undefined) return undefined;
  if (codec === 'opus') {
    const h = tag(b, 'OpusHead');
    if (h < 0 || h + 12 > b.length) return undefined;
    return Math.max(0, g - (b[h + 10]! | (b[h + 11]! << 8))) / 48000;
  }
  const h = tag(b, '\x01vorbis');
  if (h < 0 || h + 16 > b.length) return undefined;
  const rate = new DataView(b.buffer, b.byteOffset + h + 12, 4).getUint32(0, true);
  return rate > 0 ? g / rate : undefined;
}

export function containerSeconds(b: Uint8Array, c: Container): number | undefined {
  switch (c) {
    case 'mp3':
      return mp3Seconds(b);
    case 'flac':
      return flacSeconds(b);
    case 'ogg-opus':
      return oggSeconds(b, 'opus');
    case 'ogg-vorbis':
      return oggSeconds(b, 'vorbis');
    default:
      return undefined;
  }
}
