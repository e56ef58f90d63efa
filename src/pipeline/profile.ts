/**
 * The masking profile: everything a masked direction needs, resolved once from the
 * configuration in the composition root (src/compose/masking-profile.ts) and frozen. Nothing
 * below the root reads the configuration itself.
 */
import type { SegmenterOptions } from './vad/index.js';
import type { Converter, VoiceCatalog } from '../voice/converter.js';
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
  /** The masking engine's own seed (ELEVENLABS_SEED or LOCAL_SEED; the fallback keeps LOCAL_SEED). */
  readonly seed: number | undefined;
  /** What masks a phrase ElevenLabs cannot convert (undefined with the embedded engine). */
  readonly fallback: 'local' | 'silence' | undefined;
  readonly segmenter: SegmenterOptions;
  readonly playout: PlayoutOptions;
  /**
   * Hotline mode (the speaker hears themself): a new turn clears a long backlog only after this
   * much silence; continuation within a turn never clears.
   */
  readonly hotlineTurnGapMs: number;
}
