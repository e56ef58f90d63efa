/**
 * Which masking a call gets: the configured converter in its mode (phrase mode with
 * ElevenLabs, streaming mode with the embedded engine unless LOCAL_MODE=phrase), and which
 * voice ids are valid for it.
 */
import type { Config } from '../config/env.js';
import type { VoiceCatalog } from '../http/app.js';
import type { PhraseConverter, StreamingConverter } from '../voice/converter.js';
import type { MaskingMode } from './masking-pipeline.js';

export interface Masking {
  /** 'elevenlabs' or 'local': which engine masks voices. */
  readonly engine: string;
  readonly voices: VoiceCatalog;
  /** The voices phone keys cycle through (the engine's presets; none for ElevenLabs). */
  readonly voiceCycle: readonly string[];
  mode(): MaskingMode;
}

export function createMasking(opts: {
  config: Config;
  phrase: PhraseConverter;
  streaming?: StreamingConverter;
  voices: VoiceCatalog;
  voiceCycle?: readonly string[];
}): Masking {
  const { config } = opts;
  const streaming = config.converter === 'local' && config.LOCAL_MODE === 'streaming' ? opts.streaming : undefined;
  return {
    engine: config.converter,
    voices: opts.voices,
    voiceCycle: opts.voiceCycle ?? [],
    mode: () => (streaming ? { kind: 'streaming', converter: streaming } : { kind: 'phrase', converter: opts.phrase }),
  };
}
