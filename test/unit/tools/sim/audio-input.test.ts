import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { mulawDecode } from '../../../../src/audio/mulaw.js';
import { encodeWavPcm16 } from '../../../../src/audio/wav.js';
import { decodeAudioToMulaw8k, loadAudioAsMulaw8k, sniffAudioFormat, SimulatorError } from '../../../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../../../tools/clips.js';
import { encodeFlac } from '../../../helpers/flac.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sim-audio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sine(hz: number, rate: number, seconds: number, amp = 10000): Int16Array {
  const n = Math.round(rate * seconds);
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate));
  return s;
}

/** Energy of the 8 kHz signal at a frequency (single-bin DFT magnitude, normalised). */
function bin(samples: Int16Array, hz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < samples.length; i++) {
    re += samples[i]! * Math.cos((2 * Math.PI * hz * i) / 8000);
    im += samples[i]! * Math.sin((2 * Math.PI * hz * i) / 8000);
  }
  return Math.hypot(re, im) / samples.length;
}

function expectTone(mulaw: Uint8Array, hz: number) {
  const pcm = mulawDecode(mulaw);
  const mid = pcm.subarray(800, pcm.length - 800);
  const on = bin(mid, hz);
  expect(on).toBeGreaterThan(3000); // amplitude 10000 -> ~5000 in the bin
  expect(bin(mid, hz * 2.5)).toBeLessThan(on / 50);
}


/** N MPEG-1 Layer III frames (128 kbps, 44.1 kHz) whose side info is all zero: valid, silent. */
function silentMp3(frames: number): Uint8Array {
  const out = new Uint8Array(417 * frames);
  for (let f = 0; f < frames; f++) out.set([0xff, 0xfb, 0x90, 0x00], f * 417);
  return out;
}

describe('loadAudioAsMulaw8k', () => {
  it('returns an 8 kHz mu-law WAV byte for byte (the fixtures)', async () => {
    for (const key of ['jfk', 'p260']) {
      const got = await loadAudioAsMulaw8k(CLIPS[key]!.file);
      expect(Buffer.from(got).equals(Buffer.from(loadClipMulaw(key)))).toBe(true);
    }
  });

  it.each([16000, 44100])('converts a %i Hz PCM16 WAV to 8 kHz mu-law, length-exact and in tune', async (rate) => {
    const file = path.join(dir, `tone-${rate}.wav`);
    writeFileSync(file, encodeWavPcm16(sine(1000, rate, 1.5), rate));
    const got = await loadAudioAsMulaw8k(file);
    expect(got.length).toBe(12000);
    expectTone(got, 1000);
  });

  it('mixes a stereo 48 kHz float WAV down to mono', async () => {
    const n = 48000;
    const l = sine(700, 48000, 1);
    const data = Buffer.alloc(n * 8);
    for (let i = 0; i < n; i++) {
      data.writeFloatLE(l[i]! / 32767, i * 8);
      data.writeFloatLE(l[i]! / 32767, i * 8 + 4);
    }
    const h = Buffer.alloc(44);
    h.write('RIFF', 0);
    h.writeUInt32LE(36 + data.length, 4);
    h.write('WAVEfmt ', 8);
    h.writeUInt32LE(16, 16);
    h.writeUInt16LE(3, 20);
    h.writeUInt16LE(2, 22);
    h.writeUInt32LE(48000, 24);
    h.writeUInt32LE(48000 * 8, 28);
    h.writeUInt16LE(8, 32);
    h.writeUInt16LE(32, 34);
    h.write('data', 36);
    h.writeUInt32LE(data.length, 40);
    const got = await decodeAudioToMulaw8k(Buffer.concat([h, data]));
    expect(got.length).toBe(8000);
    expectTone(got, 700);
  });

  it('decodes FLAC at 22.05 kHz', async () => {
    const file = path.join(dir, 'tone.flac');
    writeFileSync(file, encodeFlac(sine(500, 22050, 1), 22050));
    expect(sniffAudioFormat(encodeFlac(new Int16Array(10), 8000))).toBe('flac');
    const got = await loadAudioAsMulaw8k(file);
    expect(got.length).toBe(8000);
    expectTone(got, 500);
  });

  it('decodes MP3 (44.1 kHz frames) to 8 kHz', async () => {
    const file = path.join(dir, 'silence.mp3');
    writeFileSync(file, silentMp3(40));
    expect(sniffAudioFormat(silentMp3(1))).toBe('mp3');
    const got = await loadAudioAsMulaw8k(file);
    // 40 frames x 1152 samples at 44.1 kHz = 1.045 s (the decoder may hold back a frame).
    expect(got.length).toBeGreaterThan(7800);
    expect(got.length).toBeLessThanOrEqual(8360);
    expect(mulawDecode(got).every((s) => Math.abs(s) < 64)).toBe(true);
  });

  it('says clearly when the file is missing or not audio', async () => {
    await expect(loadAudioAsMulaw8k(path.join(dir, 'nope.wav'))).rejects.toMatchObject({ kind: 'input-missing', message: expect.stringMatching(/not found: .*nope\.wav/) });
    const junk = path.join(dir, 'junk.ogg');
    writeFileSync(junk, Buffer.from('OggS\0\0\0\0 definitely not supported'));
    const err = await loadAudioAsMulaw8k(junk).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulatorError);
    expect(err).toMatchObject({ kind: 'input-unsupported', message: expect.stringMatching(/unsupported audio format/) });
    const wav24 = encodeWavPcm16(new Int16Array(100), 8000);
    wav24.writeUInt16LE(24, 34);
    await expect(decodeAudioToMulaw8k(wav24)).rejects.toMatchObject({ kind: 'input-unsupported', message: expect.stringMatching(/24 bits/) });
  });
});
