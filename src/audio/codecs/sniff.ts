/**
 * Which audio container a file holds, told from its first bytes (never from its name or the
 * Content-Type a client sent: browsers and SDKs send application/octet-stream).
 */
export type Container = 'wav' | 'mp3' | 'flac' | 'ogg-opus' | 'ogg-vorbis' | 'ogg' | 'webm' | 'mp4' | 'aac' | 'unknown';

const ascii = (b: Uint8Array, o: number, n: number): string => (b.length >= o + n ? String.fromCharCode(...b.subarray(o, o + n)) : '');

/** Index of an ASCII tag within the first `within` bytes, or -1. */
function find(b: Uint8Array, tag: string, within: number): number {
  const end = Math.min(b.length - tag.length, within);
  outer: for (let i = 0; i <= end; i++) {
    for (let j = 0; j < tag.length; j++) if (b[i + j] !== tag.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** Where the audio starts after a leading ID3v2 tag (0 without one). */
export const id3Skip = (b: Uint8Array): number =>
  b[0] === 0x49 && b[1] === 0x44 && b[2] === 0x33 ? 10 + (((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f)) : 0;

/** An MPEG audio frame header at offset o (sync, layer not reserved, bitrate and rate not invalid). */
export function isMpegFrameHeader(b: Uint8Array, o: number): boolean {
  if (o + 4 > b.length) return false;
  const b1 = b[o + 1]!;
  const b2 = b[o + 2]!;
  return b[o] === 0xff && (b1 & 0xe0) === 0xe0 && (b1 & 0x06) !== 0 && (b1 & 0x18) !== 0x08 && (b2 & 0xf0) !== 0xf0 && (b2 & 0x0c) !== 0x0c;
}

export function sniffContainer(b: Uint8Array): Container {
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WAVE') return 'wav';
  if (ascii(b, 0, 4) === 'fLaC') return 'flac';
  if (ascii(b, 0, 4) === 'OggS') {
    // The first page holds the codec's identification header.
    if (find(b, 'OpusHead', 64) >= 0) return 'ogg-opus';
    if (find(b, '\x01vorbis', 64) >= 0) return 'ogg-vorbis';
    if (find(b, 'fLaC', 64) >= 0) return 'flac';
    return 'ogg';
  }
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'webm';
  if (ascii(b, 4, 4) === 'ftyp') return 'mp4';
  if (ascii(b, 0, 3) === 'ID3') {
    // ID3v2 tag, then the audio: size is 4 x 7 bits.
    const size = ((b[6]! & 0x7f) << 21) | ((b[7]! & 0x7f) << 14) | ((b[8]! & 0x7f) << 7) | (b[9]! & 0x7f);
    const at = 10 + size + ((b[5]! & 0x10) !== 0 ? 10 : 0);
    if (ascii(b, at, 4) === 'fLaC') return 'flac';
    if (b[at] === 0xff && (b[at + 1]! & 0xf6) === 0xf0) return 'aac';
    return 'mp3';
  }
  // ADTS AAC: sync 0xFFF, layer 00.
  if (b[0] === 0xff && (b[1]! & 0xf6) === 0xf0) return 'aac';
  // Raw MPEG audio: require two consecutive frame headers where the file is long enough, so
  // random PCM that happens to start 0xFFFx is not taken for MP3.
  if (isMpegFrameHeader(b, 0)) {
    const len = mpegFrameLength(b, 0);
    if (len === undefined || b.length < len + 4 || isMpegFrameHeader(b, len)) return 'mp3';
  }
  return 'unknown';
}

const BITRATES: Record<string, number[]> = {
  // version-layer: kbps by index (0 = free)
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
/** Sample rates by MPEG version bits (3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5) and rate index. */
export const MPEG_RATES: Record<number, number[]> = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };

/** Length in bytes of the MPEG audio frame at o; undefined for free-format frames. */
export function mpegFrameLength(b: Uint8Array, o: number): number | undefined {
  const v = (b[o + 1]! >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5
  const layer = 4 - ((b[o + 1]! >> 1) & 3);
  const kbps = BITRATES[`${v === 3 ? 1 : 2}-${v === 3 ? layer : layer === 1 ? 1 : 2}`]![b[o + 2]! >> 4]!;
  const rate = MPEG_RATES[v]![(b[o + 2]! >> 2) & 3]!;
  const pad = (b[o + 2]! >> 1) & 1;
  if (!kbps) return undefined;
  if (layer === 1) return (Math.floor((12 * kbps * 1000) / rate) + pad) * 4;
  const perFrame = layer === 3 && v !== 3 ? 72 : 144;
  return Math.floor((perFrame * kbps * 1000) / rate) + pad;
}
