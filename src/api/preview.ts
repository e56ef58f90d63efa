/**
 * The sample behind each voice's preview_url: a short read sentence shipped with the bridge
 * (assets/voice-preview-source.wav, public domain) masked with the preset at its default
 * settings. MP3 as ElevenLabs serves previews; Ogg Opus when the optional MP3 encoder is
 * absent. Made once per voice, on first request.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWav } from '../audio/codecs/wav-decode.js';
import { loadMp3Encoder } from '../audio/codecs/mp3-encoder.js';
import { resample } from '../audio/resampler.js';
import type { StsEngine } from './engine.js';
import { createOutputEncoder } from './output-encoder.js';
import { DEFAULT_VOICE_SETTINGS } from './voice-settings.js';

const ASSET = path.join('assets', 'voice-preview-source.wav');

/**
 * The sample in the checkout's or image's assets/ folder: the nearest one above this module,
 * whether it runs from src/api (tsx) or from a build in dist/builds/<id>/api (scripts/build.mjs).
 */
export function findPreviewSource(from = path.dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, ASSET))) return path.join(dir, ASSET);
    if (path.dirname(dir) === dir) throw new Error(`${ASSET} was not found in any folder above ${from}: the voice previews need it (the image copies assets/)`);
  }
}

export interface Preview {
  bytes: Uint8Array;
  contentType: string;
}

export function previewMaker(engine: StsEngine): (voiceId: string) => Promise<Preview> {
  const cache = new Map<string, Promise<Preview>>();
  let source: Promise<Int16Array> | undefined;
  const load = async () => {
    const w = decodeWav(await readFile(findPreviewSource()));
    return w.sampleRate === 16000 ? w.samples : resample(w.samples, w.sampleRate, 16000);
  };
  const make = async (voiceId: string): Promise<Preview> => {
    source ??= load();
    const pcm = await source;
    const format = await loadMp3Encoder().then(
      () => 'mp3_44100_128' as const,
      () => 'opus_48000_64' as const,
    );
    const enc = await createOutputEncoder(format, pcm.length);
    const parts: Uint8Array[] = [];
    try {
      for await (const chunk of engine.mask(pcm, { voiceId, settings: { ...DEFAULT_VOICE_SETTINGS }, seed: 0, denoise: false, signal: new AbortController().signal })) {
        parts.push(...enc.push(chunk));
      }
      parts.push(...enc.end());
    } finally {
      enc.destroy();
    }
    return { bytes: Buffer.concat(parts), contentType: enc.contentType };
  };
  return (id) => {
    // an ElevenLabs premade id previews as the preset that serves it
    const voiceId = engine.voices.find((v) => v.id === id)?.servedBy ?? id;
    let p = cache.get(voiceId);
    if (!p) {
      p = make(voiceId);
      p.catch(() => cache.delete(voiceId));
      cache.set(voiceId, p);
    }
    return p;
  };
}
