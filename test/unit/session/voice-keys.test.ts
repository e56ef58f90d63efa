import { describe, expect, it } from 'vitest';
import { VoiceKeys } from '../../../src/session/voice-keys.js';

describe('VoiceKeys', () => {
  it('* cycles from the current voice, # returns home, other keys mean nothing', () => {
    const k = new VoiceKeys(['a', 'b', 'c'], 'b');
    expect(k.press('*', 'b')).toBe('c');
    expect(k.press('*', 'c')).toBe('a');
    expect(k.press('1', 'a')).toBeUndefined();
    expect(k.press('#', 'a')).toBe('b');
    expect(k.press('*', 'b')).toBe('c');
  });

  it('does nothing without a voice list (ElevenLabs)', () => {
    const k = new VoiceKeys([], 'voiceABC');
    expect(k.available).toBe(false);
    expect(k.press('*', 'voiceABC')).toBeUndefined();
    expect(k.press('#', 'voiceABC')).toBeUndefined();
  });
});
