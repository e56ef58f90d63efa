/**
 * Resolves the masking profile from the configuration, once, in the composition root: which
 * engine, which mode, the converter every direction opens, voices, seeds, fallback, VAD,
 * chunking and playout settings. The result is frozen; nothing below reads Config.
 */
import type { MaskingProfile } from '../pipeline/profile.js';
import { frameConverter } from '../pipeline/frame-adapter.js';
import { PhraseStreamAdapter } from '../pipeline/phrase-adapter.js';
import type { PlayoutOptions } from '../twilio/media-out.js';
import type { SegmenterOptions } from '../pipeline/vad/index.js';
import type { PhraseConverter, VoiceCatalog } from '../voice/converter.js';
import { isLocalVoice, LOCAL_VOICES, type LocalEngine } from '../voice/local/index.js';
import type { Config } from '../config/env.js';

export function segmenterOptions(c: Config): SegmenterOptions {
  return {
    mode: c.VAD_MODE,
    startMs: c.VAD_START_MS,
    prerollMs: c.VAD_PREROLL_MS,
    hangoverMs: c.VAD_HANGOVER_MS,
    minPhraseMs: c.VAD_MIN_PHRASE_MS,
    maxPhraseMs: c.VAD_MAX_PHRASE_MS,
    chunkMinMs: c.VAD_CHUNK_MIN_MS,
    chunkPauseMs: c.VAD_CHUNK_PAUSE_MS,
  };
}

export function playoutOptions(c: Config): PlayoutOptions {
  return { chunkMs: c.PLAYOUT_CHUNK_MS, leadMs: c.PLAYOUT_LEAD_MS, clearBacklogMs: c.PLAYOUT_CLEAR_BACKLOG_MS };
}

/**
 * `phrase` is the phrase backend: the resilient ElevenLabs converter, or the engine itself;
 * `elevenLabsVoices` what ElevenLabs said of the configured voices.
 * The embedded engine streams unless LOCAL_MODE=phrase; ElevenLabs is always phrase mode.
 */
export function resolveMaskingProfile(
  config: Config,
  backends: { phrase: PhraseConverter; local: LocalEngine; elevenLabsVoices?: { state(id: string): 'found' | 'unknown' | 'unchecked' } },
): MaskingProfile {
  const elevenlabs = config.converter === 'elevenlabs';
  const mode = !elevenlabs && config.LOCAL_MODE === 'streaming' ? 'streaming' : 'phrase';
  const segmenter = segmenterOptions(config);
  const voices: VoiceCatalog = elevenlabs
    ? {
        defaultVoiceId: config.ELEVENLABS_VOICE_ID,
        // Any id, but one ElevenLabs said it does not have (src/compose/voice-check.ts).
        isValid: (id) => backends.elevenLabsVoices?.state(id) !== 'unknown',
        describe: () => 'a voice id of the ElevenLabs account',
      }
    : { defaultVoiceId: config.LOCAL_VOICE_ID, isValid: isLocalVoice, describe: () => LOCAL_VOICES.map((v) => v.id).join(', ') };
  return Object.freeze({
    engine: config.converter,
    mode,
    converter: mode === 'streaming' ? frameConverter('local', (o) => backends.local.openStream(o)) : new PhraseStreamAdapter(backends.phrase, segmenter),
    voices,
    voiceCycle: elevenlabs ? [] : LOCAL_VOICES.map((v) => v.id),
    segmenter: Object.freeze(segmenter),
    playout: Object.freeze(playoutOptions(config)),
    passthroughPlayout: Object.freeze({ chunkMs: 20, leadMs: config.PLAYOUT_LEAD_MS, clearBacklogMs: 0 }),
    hotlineTurnGapMs: config.HOTLINE_TURN_GAP_MS,
  });
}
