import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ELEVENLABS_PREMADE_VOICES, FallbackVoices, isLocalVoice, presetForLabels, presetForVoiceId } from '../../../../src/voice/local/index.js';

describe('the preset closest to an ElevenLabs voice', () => {
  it('premade ids by their table, preset ids as themselves, other ids not', () => {
    for (const v of ELEVENLABS_PREMADE_VOICES) expect(presetForVoiceId(v.id)).toBe(v.preset);
    expect(presetForVoiceId('bright-female')).toBe('bright-female');
    expect(presetForVoiceId('aVoiceOfTheAccount123')).toBeUndefined();
  });

  it('labels: gender first, then age, as the premade voices map them; any spelling', () => {
    expect(presetForLabels({ gender: 'female', age: 'young' })).toBe('bright-female');
    expect(presetForLabels({ gender: 'Female', age: 'middle-aged' })).toBe('neutral-female');
    expect(presetForLabels({ gender: 'female', age: 'old' })).toBe('neutral-female');
    expect(presetForLabels({ gender: 'female' })).toBe('neutral-female');
    expect(presetForLabels({ gender: 'male', age: 'young' })).toBe('neutral-male');
    expect(presetForLabels({ gender: 'male', age: 'middle aged' })).toBe('deep-male');
    expect(presetForLabels({ gender: 'male', age: 'old' })).toBe('deep-male');
    expect(presetForLabels({ gender: 'non-binary' })).toBe('androgynous');
    expect(presetForLabels({ gender: 'neutral', age: 'young' })).toBe('androgynous');
    expect(presetForLabels({ accent: 'british' })).toBeUndefined();
    // The premade voices themselves: the labels rule agrees with their table for most of them.
    const agree = ELEVENLABS_PREMADE_VOICES.filter((v) => presetForLabels({ gender: v.gender, age: v.age }) === v.preset).length;
    expect(agree / ELEVENLABS_PREMADE_VOICES.length).toBeGreaterThan(0.8);
    for (const v of ELEVENLABS_PREMADE_VOICES) expect(isLocalVoice(presetForLabels({ gender: v.gender, age: v.age })!)).toBe(true);
  });

  it('FallbackVoices: labels the check fetched, else LOCAL_VOICE_ID with one warning per voice', () => {
    const warnings: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (c, _e, cb) => (warnings.push(String(c)), cb()) }));
    const labels: Record<string, Record<string, string>> = { persona: { gender: 'female', age: 'young' }, noGender: { accent: 'irish' } };
    const f = new FallbackVoices({ labelsOf: (id) => labels[id], defaultPreset: 'steady', log });
    expect(f.presetFor('persona')).toBe('bright-female');
    expect(f.presetFor('JBFqnCBsd6RMkjVDRZzb')).toBe('deep-male');
    expect(f.presetFor('unknown')).toBe('steady');
    expect(f.presetFor('unknown')).toBe('steady');
    expect(f.presetFor('noGender')).toBe('steady');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/nothing is known of ElevenLabs voice \\"unknown\\".*not looked up/);
    expect(warnings[1]).toMatch(/no gender in its labels/);
  });
});
