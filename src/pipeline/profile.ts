/**
 * The masking profile: everything a masked direction needs, resolved once from the
 * configuration in the composition root (src/compose/masking-profile.ts) and frozen. Nothing
 * below the root reads the configuration itself.
 */
import type { SegmenterOptions } from './vad/index.js';
import type { VoiceCatalog } from '../voice/converter.js';
import type { Converter } from './contracts.js';
import type { PlayoutOptions } from '../twilio/media-out.js';

export interface MaskingProfile {
  /** Which engine masks voices. */
  readonly engine: 'elevenlabs' | 'local';
  /** 'phrase': VAD phrases and chunks converted whole; 'streaming': frame by frame. */
  readonly mode: 'phrase' | 'streaming';
  /** The one converter every masked direction opens a stream of. */
  readonly converter: Converter;
  readonly voices: VoiceCatalog;
  /** The voices phone keys cycle through (the engine's presets; none for ElevenLabs). */
  readonly voiceCycle: readonly string[];
  readonly segmenter: SegmenterOptions;
  /** How masked speech plays on a listener's connection. */
  readonly playout: PlayoutOptions;
  /**
   * How unmasked passthrough audio plays (a two-party line that masks the agent only): 20 ms
   * chunks, never cleared, so nothing of the customer is held back from the agent.
   */
  readonly passthroughPlayout: PlayoutOptions;
  /**
   * Hotline mode (the speaker hears themself): a new turn clears a long backlog only after this
   * much silence; continuation within a turn never clears.
   */
  readonly hotlineTurnGapMs: number;
}
