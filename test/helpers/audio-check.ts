/**
 * Checks on encoded audio with third-party decoders (not the product's own): MP3 with
 * mpg123-decoder, Ogg Opus with ogg-opus-decoder; and a speech check (the energy envelope of
 * the output follows the input's syllables).
 */
import { readFileSync } from 'node:fs';
import { MPEGDecoder } from 'mpg123-decoder';
import { OggOpusDecoder } from 'ogg-opus-decoder';
import { parseWav, wavToPcm16 } from '../../src/audio/wav.js';

const DIR = new URL('../fixtures/encoded/', import.meta.url);

export const fixture = (name: string): Buffer => readFileSync(new URL(name, DIR));

/** The 16 kHz reference of the encoded fixtures. */
export function fixturePcm16k(_clip: 'jfk'): Int16Array {
  return wavToPcm16(parseWav(fixture('jfk_3s_16k.wav'))).samples;
}

export interface Decoded {
  pcm: Int16Array;
  sampleRate: number;
  seconds: number;
}

function toPcm(ch: Float32Array, n: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(ch[i]! * 32767)));
  return out;
}

export async function decodeMp3(bytes: Uint8Array): Promise<Decoded> {
  const d = new MPEGDecoder();
  await d.ready;
  try {
    const r = d.decode(bytes);
    if (r.samplesDecoded === 0) throw new Error('no MP3 frames');
    return { pcm: toPcm(r.channelData[0]!, r.samplesDecoded), sampleRate: r.sampleRate, seconds: r.samplesDecoded / r.sampleRate };
  } finally {
    d.free();
  }
}

export async function decodeOggOpus(bytes: Uint8Array): Promise<Decoded> {
  const d = new OggOpusDecoder();
  await d.ready;
  try {
    const r = await d.decodeFile(bytes);
    if (r.errors.length) throw new Error(r.errors[0]!.message);
    return { pcm: toPcm(r.channelData[0]!, r.samplesDecoded), sampleRate: r.sampleRate, seconds: r.samplesDecoded / r.sampleRate };
  } finally {
    d.free();
  }
}

/** Correlation of the 20 ms log-energy envelopes of two 16 kHz signals (aligned at 0). */
export function envelopeCorrelation(a: Int16Array, b: Int16Array): number {
  const env = (x: Int16Array) => {
    const out: number[] = [];
    for (let o = 0; o + 320 <= x.length; o += 320) {
      let e = 0;
      for (let i = o; i < o + 320; i++) e += x[i]! * x[i]!;
      out.push(Math.log10(e / 320 + 1));
    }
    return out;
  };
  const ea = env(a);
  const eb = env(b);
  const n = Math.min(ea.length, eb.length);
  const mean = (v: number[]) => v.slice(0, n).reduce((s, x) => s + x, 0) / n;
  const ma = mean(ea);
  const mb = mean(eb);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (ea[i]! - ma) * (eb[i]! - mb);
    saa += (ea[i]! - ma) ** 2;
    sbb += (eb[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
