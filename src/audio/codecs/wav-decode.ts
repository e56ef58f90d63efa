/**
 * WAV sample decoding beyond what the call path needs: 8/16/24/32-bit integer PCM, 32/64-bit
 * float, A-law and mu-law, any channel count, to mono PCM16 at the file's own rate. The chunk
 * walk is src/audio/wav.ts's parseWav.
 */
import alawmulaw from 'alawmulaw';
import { parseWav, type WavAudio } from '../wav.js';
import { interleaved16ToMono } from './pcm.js';

export interface WavPcm {
  samples: Int16Array;
  sampleRate: number;
  channels: number;
  /** The data chunk ended before the size its header declares. */
  truncated: boolean;
}

function clamp16(v: number): number {
  return v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
}

/** Decodes interleaved samples [from, to) of the data chunk to PCM16. */
function interleavedPcm16(w: WavAudio, from = 0, to = Infinity): Int16Array {
  const bits = w.bitsPerSample;
  const bytes = bits / 8;
  const all = w.data;
  const d = all.subarray(Math.min(all.length, from * bytes), Math.min(all.length, to * bytes));
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const tag = w.formatTag;
  if (tag === 7 && bits === 8) return alawmulaw.mulaw.decode(d);
  if (tag === 6 && bits === 8) return alawmulaw.alaw.decode(d);
  if (tag === 1) {
    if (![8, 16, 24, 32].includes(bits)) throw new Error(`${bits}-bit integer PCM is not supported`);
    const n = Math.floor(d.length / bytes);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * bytes;
      if (bits === 8) out[i] = (d[o]! - 128) << 8;
      else if (bits === 16) out[i] = dv.getInt16(o, true);
      else if (bits === 24) out[i] = ((d[o + 2]! << 24) >> 16) | d[o + 1]!;
      else out[i] = dv.getInt32(o, true) >> 16;
    }
    return out;
  }
  if (tag === 3 && (bits === 32 || bits === 64)) {
    const n = Math.floor(d.length / bytes);
    const out = new Int16Array(n);
    for (let i = 0; i < n; i++) out[i] = clamp16((bits === 32 ? dv.getFloat32(i * bytes, true) : dv.getFloat64(i * bytes, true)) * 32768);
    return out;
  }
  throw new Error(`WAV encoding with format tag ${tag} at ${bits} bits is not supported (use PCM, float, A-law or mu-law)`);
}

export interface WavReader {
  sampleRate: number;
  channels: number;
  /** Frames (samples per channel) in the data chunk. */
  frames: number;
  /** The data chunk ended before the size its header declares. */
  truncated: boolean;
  /** Mono PCM16 of frames [from, to). */
  read(from: number, to: number): Int16Array;
}

/** Parses the header; samples are decoded slice by slice with read(). Throws on a bad header. */
export function openWav(bytes: Uint8Array): WavReader {
  const w = parseWav(bytes);
  if (w.channels < 1) throw new Error('the WAV header declares no channels');
  if (w.sampleRate < 1000 || w.sampleRate > 384000) throw new Error(`the WAV header declares a sample rate of ${w.sampleRate} Hz`);
  interleavedPcm16({ ...w, data: new Uint8Array(0) }); // throws for an unsupported encoding
  // Declared size of the data chunk (0 and 0xFFFFFFFF are "unknown", as streaming writers leave them).
  const at = w.data.byteOffset - bytes.byteOffset;
  const declared = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at - 4, true);
  const frameBytes = (w.bitsPerSample / 8) * w.channels;
  return {
    sampleRate: w.sampleRate,
    channels: w.channels,
    frames: Math.floor(w.data.length / frameBytes),
    truncated: declared !== 0 && declared !== 0xffffffff && w.data.length < declared,
    read: (from, to) => interleaved16ToMono(interleavedPcm16(w, from * w.channels, to * w.channels), w.channels),
  };
}

/** The whole file at once (small files: previews, tests). */
export function decodeWav(bytes: Uint8Array): WavPcm {
  const r = openWav(bytes);
  return { samples: r.read(0, r.frames), sampleRate: r.sampleRate, channels: r.channels, truncated: r.truncated };
}
