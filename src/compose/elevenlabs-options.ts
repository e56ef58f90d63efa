/** The ElevenLabs client's options, resolved from the configuration in the composition root. */
import type { ElevenLabsOptions } from '../voice/elevenlabs/index.js';
import type { Config } from '../config/env.js';

export function elevenLabsOptions(config: Config): ElevenLabsOptions {
  if (!config.ELEVENLABS_API_KEY) throw new Error('ELEVENLABS_API_KEY is required for the ElevenLabs converter');
  return {
    apiKey: config.ELEVENLABS_API_KEY,
    baseUrl: config.ELEVENLABS_BASE_URL,
    modelId: config.ELEVENLABS_MODEL_ID,
    ...(config.ELEVENLABS_VOICE_SETTINGS !== undefined && { voiceSettings: config.ELEVENLABS_VOICE_SETTINGS }),
    ...(config.ELEVENLABS_SEED !== undefined && { seed: config.ELEVENLABS_SEED }),
    removeBackgroundNoise: config.ELEVENLABS_REMOVE_BACKGROUND_NOISE,
    ...(config.ELEVENLABS_ENABLE_LOGGING !== undefined && { enableLogging: config.ELEVENLABS_ENABLE_LOGGING }),
    connectTimeoutMs: config.ELEVENLABS_CONNECT_TIMEOUT_MS,
    firstByteTimeoutMs: config.ELEVENLABS_FIRST_BYTE_TIMEOUT_MS,
    idleTimeoutMs: config.ELEVENLABS_IDLE_TIMEOUT_MS,
  };
}
