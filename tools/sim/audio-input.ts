/** Any WAV / MP3 / FLAC file -> 8 kHz mono mu-law, the way a phone line would carry it. */
import { readFile } from 'node:fs/promises';
import { mulawEncode, initResampler, resample, parseWav, wavToPcm16, WavError } from '../../src/audio/index.js';
import { SimulatorError } from './errors.js';

export type AudioContainer = 'wav' | 'mp3' | 'flac';

export function sniffAudioFormat(bytes: Uint8Array): AudioContainer | undefined {
  const ascii = (o: number, n: number) => String.fromCharCode(...bytes.subarray(o, o + n));
  if (bytes.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 4) === 'WAVE') return 'wav';
  if (bytes.length >= 4 && ascii(0, 4) === 'fLaC') return 'flac';
  if (bytes.length >= 3 && ascii(0, 3) === 'ID3') return 'mp3';
  // MPEG audio frame sync: 11 set bits, layer != reserved.
  if (bytes.length >= 2 && bytes[0] === 0xff && (bytes[1]! & 0xe0) === 0xe0 && (bytes[1]! & 0x06) !== 0) return 'mp3';
  return undefined;
}

function floatToPcm16Mono(channels: Float32Array[], samples: number): Int16Array {
  const out = new Int16Array(samples);
  const c = channels.length || 1;
  for (let i = 0; i < samples; i++) {
    let s = 0;
    for (const ch of channels) s += ch[i] ?? 0;
    out[i] = Math.max(-32768, Math.min(32767, Math.round((s / c) * 32767)));
  }
  return out;
}

async function decodeMp3(bytes: Uint8Array): Promise<{ samples: Int16Array; sampleRate: number }> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const d = new MPEGDecoder();
  await d.ready;
  try {
    const r = d.decode(bytes);
    if (r.samplesDecoded === 0) throw new SimulatorError('input-unsupported', 'MP3 decoder found no audio frames');
    return { samples: floatToPcm16Mono(r.channelData, r.samplesDecoded), sampleRate: r.sampleRate };
  } finally {
    d.free();
  }
}

async function decodeFlac(bytes: Uint8Array): Promise<{ samples: Int16Array; sampleRate: number }> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const d = new FLACDecoder();
  await d.ready;
  try {
    const r = await d.decodeFile(bytes);
    if (r.samplesDecoded === 0) throw new SimulatorError('input-unsupported', 'FLAC decoder found no audio frames');
    return { samples: floatToPcm16Mono(r.channelData, r.samplesDecoded), sampleRate: r.sampleRate };
  } finally {
    d.free();
  }
}

/**
 * Decodes WAV (PCM16, float32 or mu-law, any rate, any channel count), MP3 or FLAC bytes to
 * 8 kHz mono mu-law. An 8 kHz mono mu-law WAV is returned byte for byte (no re-encoding).
 */
export async function decodeAudioToMulaw8k(bytes: Uint8Array, label = 'input'): Promise<Uint8Array> {
  const fmt = sniffAudioFormat(bytes);
  let pcm: { samples: Int16Array; sampleRate: number };
  if (fmt === 'wav') {
    try {
      const w = parseWav(bytes);
      if (w.formatTag === 7 && w.bitsPerSample === 8 && w.channels === 1 && w.sampleRate === 8000) return w.data.slice();
      pcm = wavToPcm16(w);
    } catch (err) {
      if (err instanceof WavError) throw new SimulatorError('input-unsupported', `${label}: ${err.message}`, undefined, undefined, { cause: err });
      throw err;
    }
  } else if (fmt === 'mp3') pcm = await decodeMp3(bytes);
  else if (fmt === 'flac') pcm = await decodeFlac(bytes);
  else throw new SimulatorError('input-unsupported', `${label}: unsupported audio format (expected WAV, MP3 or FLAC)`);
  if (pcm.sampleRate <= 0) throw new SimulatorError('input-unsupported', `${label}: invalid sample rate ${pcm.sampleRate}`);
  let samples = pcm.samples;
  if (pcm.sampleRate !== 8000) {
    await initResampler();
    samples = resample(samples, pcm.sampleRate, 8000);
  }
  return mulawEncode(samples);
}

/** Reads a WAV / MP3 / FLAC file as 8 kHz mono mu-law. Throws SimulatorError('input-missing' | 'input-unsupported'). */
export async function loadAudioAsMulaw8k(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SimulatorError('input-missing', `audio file not found: ${path}`, undefined, undefined, { cause: err });
    if (code === 'EISDIR') throw new SimulatorError('input-missing', `${path} is a directory, not an audio file`, undefined, undefined, { cause: err });
    throw err;
  }
  return decodeAudioToMulaw8k(bytes, path);
}
