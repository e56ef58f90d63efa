/**
 * ElevenLabs' default ("premade") voices, by the ids their documentation and SDK examples use
 * (George, JBFqnCBsd6RMkjVDRZzb, in nearly every one). So that those examples run unchanged
 * against the embedded engine, each id is accepted and served by the closest preset: the
 * speaker is masked with that preset, not made to sound like ElevenLabs' voice. Labels are
 * ElevenLabs' (gender, age, what the voice is for); the accent stays the speaker's own.
 */
export interface PremadeVoice {
  readonly id: string;
  readonly name: string;
  /** The preset (src/voice/local/presets.ts) that serves it. */
  readonly preset: string;
  readonly gender: 'male' | 'female' | 'neutral';
  readonly age: 'young' | 'middle_aged' | 'old';
  readonly description: string;
  readonly useCase: string;
}

const v = (id: string, name: string, preset: string, gender: PremadeVoice['gender'], age: PremadeVoice['age'], description: string, useCase: string): PremadeVoice =>
  Object.freeze({ id, name, preset, gender, age, description, useCase });

export const ELEVENLABS_PREMADE_VOICES: readonly PremadeVoice[] = Object.freeze([
  v('9BWtsMINqrJLrRacOk9x', 'Aria', 'neutral-female', 'female', 'middle_aged', 'husky', 'informative_educational'),
  v('CwhRBWXzGAHq8TQ4Fs17', 'Roger', 'deep-male', 'male', 'middle_aged', 'confident', 'social_media'),
  v('EXAVITQu4vr4xnSDxMaL', 'Sarah', 'bright-female', 'female', 'young', 'soft', 'entertainment_tv'),
  v('FGY2WhTYpPnrIDTdsKH5', 'Laura', 'bright-female', 'female', 'young', 'upbeat', 'social_media'),
  v('IKne3meq5aSn9XLyUdCD', 'Charlie', 'neutral-male', 'male', 'young', 'natural', 'conversational'),
  v('JBFqnCBsd6RMkjVDRZzb', 'George', 'deep-male', 'male', 'middle_aged', 'warm', 'narrative_story'),
  v('N2lVS1w4EtoT3dr4eOWO', 'Callum', 'deep-male', 'male', 'middle_aged', 'intense', 'characters'),
  v('SAz9YHcvj6GT2YYXdXww', 'River', 'androgynous', 'neutral', 'middle_aged', 'confident', 'social_media'),
  v('TX3LPaxmHKxFdv7VOQHJ', 'Liam', 'neutral-male', 'male', 'young', 'articulate', 'narration'),
  v('XB0fDUnXU5powFXDhCwa', 'Charlotte', 'bright-female', 'female', 'young', 'sensual', 'characters'),
  v('Xb7hH8MSUJpSbSDYk0k2', 'Alice', 'neutral-female', 'female', 'middle_aged', 'confident', 'news'),
  v('XrExE9yKIg1WjnnlVkGX', 'Matilda', 'neutral-female', 'female', 'middle_aged', 'friendly', 'narration'),
  v('bIHbv24MWmeRgasZH58o', 'Will', 'neutral-male', 'male', 'young', 'friendly', 'social_media'),
  v('cgSgspJ2msm6clMCkdW9', 'Jessica', 'bright-female', 'female', 'young', 'expressive', 'conversational'),
  v('cjVigY5qzO86Huf0OWal', 'Eric', 'neutral-male', 'male', 'middle_aged', 'friendly', 'conversational'),
  v('iP95p4xoKVk53GoZ742B', 'Chris', 'neutral-male', 'male', 'middle_aged', 'casual', 'conversational'),
  v('nPczCjzI2devNBz1zQrb', 'Brian', 'deep-male', 'male', 'middle_aged', 'deep', 'narration'),
  v('onwK4e9ZLuTAKqWW03F9', 'Daniel', 'deep-male', 'male', 'middle_aged', 'authoritative', 'news'),
  v('pFZP5JQG7iQjIQuC4Bku', 'Lily', 'neutral-female', 'female', 'middle_aged', 'warm', 'narration'),
  v('pqHfZKP75CvOlQylNhV4', 'Bill', 'deep-male', 'male', 'old', 'trustworthy', 'narration'),
  v('21m00Tcm4TlvDq8ikWAM', 'Rachel', 'neutral-female', 'female', 'young', 'calm', 'narration'),
  v('pNInz6obpgDQGcFmaJgB', 'Adam', 'deep-male', 'male', 'middle_aged', 'deep', 'narration'),
]);
