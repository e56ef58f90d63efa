/** A config pointed at a fake ElevenLabs, with short timeouts (it imports product code, so it cannot live in tools/fakes/). */
import { loadConfig, type Config } from '../../src/config/env.js';
import { TEST_KEY } from './phrases.js';

/** A config pointed at a fake, with short timeouts; override any variable. */
export function testConfig(baseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    CONVERTER: 'elevenlabs',
    ELEVENLABS_API_KEY: TEST_KEY,
    ELEVENLABS_BASE_URL: baseUrl,
    ELEVENLABS_VOICE_ID: 'voiceA',
    ELEVENLABS_CONNECT_TIMEOUT_MS: '500',
    ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: '400',
    ELEVENLABS_MAX_LAG_MS: '2000',
    ...env,
  });
}
