import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseWav, wavToPcm16, encodeWavPcm16, encodeWavMulaw, WavError } from '../../../src/audio/wav.js';
import { CLIPS, loadClipMulaw } from '../../../tools/clips.js';

describe('wav', () => {
  it('parses the 58-byte mu-law header by walking chunks', () => {
    const buf = readFileSync(CLIPS.jfk!.file);
    const w = parseWav(buf);
    expect(w.formatTag).toBe(7);
    expect(w.sampleRate).toBe(8000);
    expect(w.data.byteOffset - buf.byteOffset).toBe(58);
    expect(w.data.length).toBe(88000);
  });

  it('every fixture lasts as long as its reference says', () => {
    for (const [key, clip] of Object.entries(CLIPS)) {
      expect(loadClipMulaw(key).length / 8000, key).toBeCloseTo(clip.durationS, 1);
    }
  });

  it('round-trips PCM16 and mu-law', () => {
    const pcm = Int16Array.from({ length: 1600 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
    const back = wavToPcm16(parseWav(encodeWavPcm16(pcm, 16000)));
    expect(back.sampleRate).toBe(16000);
    expect(Array.from(back.samples)).toEqual(Array.from(pcm));
    const mu = parseWav(encodeWavMulaw(new Uint8Array([1, 2, 3, 0xff])));
    expect(Array.from(mu.data)).toEqual([1, 2, 3, 0xff]);
  });

  it('refuses what is not a WAV with a clear error', () => {
    expect(() => parseWav(Buffer.from('ID3 not a wav file'))).toThrow(WavError);
  });
});
