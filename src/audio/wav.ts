/**
 * WAV reading and writing. Reads by walking the RIFF chunks (the mu-law clips have a 58-byte
 * header with a fact chunk), so header size is never assumed.
 */
import { mulawDecode } from './mulaw.js';

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** 1 = PCM, 3 = float, 6 = A-law, 7 = mu-law */
  formatTag: number;
  bitsPerSample: number;
  /** The raw bytes of the data chunk. */
  data: Uint8Array;
}

export class WavError extends Error {
  override name = 'WavError';
}

export function parseWav(buf: Uint8Array): WavAudio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number) => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new WavError('not a RIFF/WAVE file');
  let off = 12;
  let fmt: Omit<WavAudio, 'data'> | undefined;
  while (off + 8 <= buf.length) {
    const id = tag(off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new WavError('fmt chunk too short');
      let formatTag = view.getUint16(body, true);
      if (formatTag === 0xfffe && size >= 40) formatTag = view.getUint16(body + 24, true);
      fmt = {
        formatTag,
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bitsPerSample: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new WavError('data chunk before fmt chunk');
      const end = Math.min(buf.length, body + size);
      return { ...fmt, data: buf.subarray(body, end) };
    }
    off = body + size + (size & 1);
  }
  throw new WavError('no data chunk');
}

/** Decodes any PCM16 / float32 / mu-law WAV to mono Int16 samples at its own rate. */
export function wavToPcm16(w: WavAudio): { samples: Int16Array; sampleRate: number } {
  let interleaved: Int16Array;
  if (w.formatTag === 7 && w.bitsPerSample === 8) interleaved = mulawDecode(w.data);
  else if (w.formatTag === 1 && w.bitsPerSample === 16) {
    interleaved = new Int16Array(w.data.length >> 1);
    const dv = new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    for (let i = 0; i < interleaved.length; i++) interleaved[i] = dv.getInt16(i * 2, true);
  } else if (w.formatTag === 3 && w.bitsPerSample === 32) {
    const dv = new DataView(w.data.buffer, w.data.byteOffset, w.data.byteLength);
    interleaved = new Int16Array(w.data.length >> 2);
    for (let i = 0; i < interleaved.length; i++) {
      interleaved[i] = Math.max(-32768, Math.min(32767, Math.round(dv.getFloat32(i * 4, true) * 32767)));
    }
  } else {
    throw new WavError(`unsupported WAV encoding (format tag ${w.formatTag}, ${w.bitsPerSample} bits); use 16-bit PCM, 32-bit float or mu-law`);
  }
  if (w.channels === 1) return { samples: interleaved, sampleRate: w.sampleRate };
  const frames = Math.floor(interleaved.length / w.channels);
  const mono = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    let s = 0;
    for (let c = 0; c < w.channels; c++) s += interleaved[i * w.channels + c]!;
    mono[i] = Math.round(s / w.channels);
  }
  return { samples: mono, sampleRate: w.sampleRate };
}

function header(dataBytes: number, sampleRate: number, formatTag: number, bits: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(formatTag, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE((sampleRate * bits) / 8, 28);
  h.writeUInt16LE(bits / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

export function encodeWavPcm16(samples: Int16Array, sampleRate: number): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  return Buffer.concat([header(data.length, sampleRate, 1, 16), data]);
}

export function encodeWavMulaw(bytes: Uint8Array, sampleRate = 8000): Buffer {
  return Buffer.concat([header(bytes.length, sampleRate, 7, 8), Buffer.from(bytes)]);
}
