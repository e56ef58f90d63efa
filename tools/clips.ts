/** The fixture clips and their reference phrase timings (seconds), for tests and scripts. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseWav } from '../src/audio/index.js';

export const FIXTURES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures');

export interface Clip {
  name: string;
  file: string;
  durationS: number;
  phrases: Array<[number, number]>;
}

const p = (s: string): Array<[number, number]> =>
  s.split(';').map((r) => r.trim().split('-').map(Number) as [number, number]);

export const CLIPS: Record<string, Clip> = Object.fromEntries(
  (
    [
      ['jfk', 'en_m_jfk_inaugural_1961', 11.0, '0.33-2.12; 3.29-3.71; 4.01-4.30; 5.42-7.54; 8.19-10.99'],
      ['bush', 'en_m_bush_radio_address_2008_45s', 45.0, '0.03-2.20; 3.27-5.60; 6.05-9.84; 10.15-12.94; 13.78-17.54; 17.89-21.43; 21.80-25.52; 26.03-28.37; 29.16-31.12; 31.60-33.69; 34.45-37.55; 38.30-39.16; 39.72-44.76'],
      ['ljspeech', 'en_f_ljspeech_fdr_fireside_49s', 49.47, '0.28-2.73; 3.15-7.61; 8.10-12.54; 13.13-17.78; 18.16-25.32; 25.87-31.07; 31.60-40.30; 40.74-44.61; 45.07-48.45'],
      ['noisy', 'en_f_ljspeech_noisy_telephone_18s', 17.97, '0.28-2.73; 3.15-7.61; 8.10-12.54; 13.13-17.78'],
      ['libri3575', 'en_f_librispeech_3575', 5.08, '0.32-4.78'],
      ['libri6829', 'en_f_librispeech_6829', 5.11, '0.30-4.77'],
      ['libri8230', 'en_m_librispeech_8230', 5.29, '0.30-3.09; 3.43-4.96'],
      ['p240', 'en_f_vctk_p240', 4.99, '0.14-4.93'],
      ['p260', 'en_m_vctk_p260', 5.06, '0.13-1.83; 2.15-5.05'],
      ['aew', 'en_m_cmuarctic_aew_a0001-a0003', 11.44, '0.17-3.69; 4.06-7.71; 8.04-11.36'],
      ['axb', 'en_f_cmuarctic_axb_a0004-a0006', 7.91, '0.20-7.82'],
      ['thorsten', 'de_m_thorsten_sample03', 4.93, '0.01-2.26; 2.59-4.90'],
    ] as const
  ).map(([key, base, dur, phrases]) => [
    key,
    { name: base, file: path.join(FIXTURES_DIR, `${base}_8k_ulaw.wav`), durationS: dur, phrases: p(phrases) },
  ]),
);

/** The raw 8 kHz mu-law bytes of a clip: exactly what Twilio would send. */
export function loadClipMulaw(key: keyof typeof CLIPS | string): Uint8Array {
  const clip = CLIPS[key];
  if (!clip) throw new Error(`unknown clip ${key}`);
  const wav = parseWav(readFileSync(clip.file));
  if (wav.formatTag !== 7 || wav.sampleRate !== 8000) throw new Error(`${clip.file} is not 8 kHz mu-law`);
  return wav.data;
}
