/**
 * Speed of the ElevenLabs-compatible API (not part of npm test):
 *
 *   npm run bench:compat-api
 *
 * 1. Encoding: real-time factor (CPU seconds per second of audio) of each output encoder on
 *    10 s of real speech (JFK, public domain), 16 kHz in, as the engine hands it over.
 * 2. Decoding: RTF of each input decoder on the 3 s encoded fixtures.
 * 3. End to end over HTTP on loopback: a 5-minute WAV, MP3 and Ogg Opus on /stream: time to
 *    the first audio byte after the request is sent, total time, and the
 *    event loop's worst delay during the conversion (what a live call on the same process
 *    would feel).
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import express from 'express';
import { localStsEngine } from '../src/api/engine.js';
import { createOutputEncoder } from '../src/api/output-encoder.js';
import { createStsRouter } from '../src/api/sts-router.js';
import { decodeToMono16k } from '../src/audio/codecs/decode.js';
import { initResampler, resample } from '../src/audio/resampler.js';
import { mulawDecode } from '../src/audio/mulaw.js';
import { encodeWavPcm16, parseWav } from '../src/audio/wav.js';
import type { OutputFormat } from '../src/api/sts-request.js';

const FIXTURES = new URL('../test/fixtures/', import.meta.url);

async function encodeRtf(format: OutputFormat, pcm: Int16Array): Promise<number> {
  const once = async () => {
    const t0 = performance.now();
    const enc = await createOutputEncoder(format, pcm.length);
    for (let o = 0; o < pcm.length; o += 3200) enc.push(pcm.subarray(o, o + 3200));
    enc.end();
    return (performance.now() - t0) / 1000;
  };
  await once(); // warm-up (JIT, WASM)
  const runs = [await once(), await once(), await once()];
  return Math.min(...runs) / (pcm.length / 16000);
}

async function main(): Promise<void> {
  await initResampler();
  const jfk8k = mulawDecode(parseWav(readFileSync(new URL('en_m_jfk_inaugural_1961_8k_ulaw.wav', FIXTURES))).data);
  const ten = resample(jfk8k, 8000, 16000).subarray(0, 160000);

  console.log('Encoding 10 s of speech (RTF = CPU s per s of audio; lower is faster)');
  for (const f of ['mp3_44100_128', 'mp3_22050_32', 'mp3_44100_192', 'opus_48000_32', 'opus_48000_64', 'opus_48000_192', 'pcm_44100', 'ulaw_8000', 'wav_48000'] as OutputFormat[]) {
    const rtf = await encodeRtf(f, ten);
    console.log(`  ${f.padEnd(16)} RTF ${rtf.toFixed(4)}  (${(1 / rtf).toFixed(0)}x real time)`);
  }

  console.log('Decoding the 3 s fixtures to 16 kHz mono');
  for (const name of ['jfk_3s_16k.wav', 'jfk_3s_44k_stereo.mp3', 'jfk_3s_16k.flac', 'jfk_3s.opus', 'jfk_3s_22k_stereo.ogg', 'jfk_3s.webm']) {
    const bytes = readFileSync(new URL(`encoded/${name}`, FIXTURES));
    await decodeToMono16k(bytes, { maxSeconds: 300 });
    const t0 = performance.now();
    const d = await decodeToMono16k(bytes, { maxSeconds: 300 });
    const rtf = (performance.now() - t0) / 1000 / d.seconds;
    console.log(`  ${name.padEnd(24)} RTF ${rtf.toFixed(4)}`);
  }

  const app = express();
  app.use(createStsRouter({ engine: localStsEngine() }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const five = new Int16Array(16000 * 300);
  for (let o = 0; o < five.length; o += ten.length) five.set(ten.subarray(0, Math.min(ten.length, five.length - o)), o);
  const encodeAll = async (format: OutputFormat) => {
    const enc = await createOutputEncoder(format, five.length);
    const parts: Uint8Array[] = [];
    for (let o = 0; o < five.length; o += 16000) parts.push(...enc.push(five.subarray(o, o + 16000)));
    parts.push(...enc.end());
    return Buffer.concat(parts);
  };
  const inputs: Array<[string, Uint8Array, string]> = [
    ['WAV', encodeWavPcm16(five, 16000), 'pcm_16000'],
    ['WAV', encodeWavPcm16(five, 16000), 'mp3_44100_128'],
    ['WAV', encodeWavPcm16(five, 16000), 'opus_48000_64'],
    ['MP3 128k', await encodeAll('mp3_44100_128'), 'pcm_16000'],
    ['Ogg Opus 32k', await encodeAll('opus_48000_32'), 'pcm_16000'],
  ];
  console.log('A 5-minute file on /stream, over loopback HTTP');
  for (const [label, input, format] of inputs) {
    const lag = monitorEventLoopDelay({ resolution: 5 });
    const f = new FormData();
    f.append('audio', new Blob([input]), 'five-minutes');
    lag.enable();
    const t0 = performance.now();
    const res = await fetch(`${url}/v1/speech-to-speech/neutral-male/stream?output_format=${format}`, { method: 'POST', body: f });
    let first = 0;
    let bytes = 0;
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (!first) first = performance.now() - t0;
      bytes += c.byteLength;
    }
    const total = performance.now() - t0;
    lag.disable();
    if (res.status !== 200) console.log(`  ${label}: ${res.status}`);
    console.log(
      `  ${label.padEnd(12)} -> ${format.padEnd(14)} status ${res.status}, first audio ${first.toFixed(0)} ms, total ${(total / 1000).toFixed(2)} s (RTF ${(total / 1000 / 300).toFixed(4)}), ` +
        `${(bytes / 1024).toFixed(0)} KB, event loop delay max ${(lag.max / 1e6).toFixed(1)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(1)} ms`,
    );
  }
  server.closeAllConnections();
  server.close();
}

await main();
