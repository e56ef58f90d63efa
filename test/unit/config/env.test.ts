import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.js';
import { segmenterOptions } from '../../../src/compose/masking-profile.js';
import { initVad, PhraseSegmenter } from '../../../src/pipeline/vad/index.js';

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (e) {
    return (e as ConfigError).problems;
  }
  return [];
};

describe('loadConfig', () => {
  it('has sensible defaults and picks the embedded engine without a key', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8080);
    expect(c.HOST).toBe('0.0.0.0');
    expect(c.ELEVENLABS_BASE_URL).toBe('https://api.elevenlabs.io');
    expect(c.ELEVENLABS_MODEL_ID).toBe('eleven_multilingual_sts_v2');
    expect(c.VAD_PREROLL_MS).toBe(200);
    expect(c.VAD_HANGOVER_MS).toBe(500);
    expect(c.VAD_MIN_PHRASE_MS).toBe(250);
    expect(c.VAD_MAX_PHRASE_MS).toBe(2200);
    expect(c.converter).toBe('local');
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('refuses LOCAL_DENOISE in streaming mode, naming the fix; phrase mode and ElevenLabs fallback take it', () => {
    expect(problems({ LOCAL_DENOISE: 'true' })).toEqual([expect.stringMatching(/^LOCAL_DENOISE: .*set LOCAL_MODE=phrase/)]);
    expect(loadConfig({ LOCAL_DENOISE: 'true', LOCAL_MODE: 'phrase' }).LOCAL_DENOISE).toBe(true);
    expect(loadConfig({ LOCAL_DENOISE: 'true', ELEVENLABS_API_KEY: 'k' }).LOCAL_DENOISE).toBe(true);
  });

  it('varies the formant target per phrase unless LOCAL_PHRASE_VARIATION=false; names a bad value', () => {
    expect(loadConfig({}).LOCAL_PHRASE_VARIATION).toBe(true);
    expect(loadConfig({ LOCAL_PHRASE_VARIATION: 'false' }).LOCAL_PHRASE_VARIATION).toBe(false);
    expect(problems({ LOCAL_PHRASE_VARIATION: 'sometimes' }).join('\n')).toMatch(/^LOCAL_PHRASE_VARIATION: /);
  });

  it('uses ElevenLabs when a key is set, on any regional host', () => {
    const c = loadConfig({ ELEVENLABS_API_KEY: 'k', ELEVENLABS_BASE_URL: 'https://api.eu.residency.elevenlabs.io/' });
    expect(c.converter).toBe('elevenlabs');
    expect(c.ELEVENLABS_BASE_URL).toBe('https://api.eu.residency.elevenlabs.io');
  });

  it('names each bad variable and what it expects', () => {
    const p = problems({ PORT: 'eighty', ELEVENLABS_VOICE_SETTINGS: '{bad', ELEVENLABS_SEED: '-1', PUBLIC_URL: 'ftp://x', LOG_LEVEL: 'loud', VAD_HANGOVER_MS: '5' });
    expect(p.join('\n')).toMatch(/PORT: expected an integer from 0 to 65535, got "eighty"/);
    expect(p.join('\n')).toMatch(/ELEVENLABS_VOICE_SETTINGS: expected a JSON object/);
    expect(p.join('\n')).toMatch(/ELEVENLABS_SEED: expected an integer from 0 to 4294967295/);
    expect(p.join("\n")).toMatch(/PUBLIC_URL: expected an absolute https:\/\/ \(or http:\/\/, for local tests\) URL/);
    expect(p.join('\n')).toMatch(/LOG_LEVEL/);
    expect(p.join('\n')).toMatch(/VAD_HANGOVER_MS: expected an integer from 100 to 5000/);
    expect(p).toHaveLength(6);
  });

  it('refuses VAD lengths that cannot work together, naming both variables', () => {
    expect(problems({ VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '1000', VAD_PREROLL_MS: '1000' }).join('\n')).toMatch(
      /VAD_MAX_PHRASE_MS \(1000\) must exceed VAD_PREROLL_MS \+ VAD_START_MS/,
    );
    expect(problems({ VAD_MAX_PHRASE_MS: '2000', VAD_CHUNK_MIN_MS: '2000' }).join('\n')).toMatch(/VAD_CHUNK_MIN_MS \(2000\) must be below VAD_MAX_PHRASE_MS/);
    expect(problems({ VAD_CHUNK_PAUSE_MS: '600', VAD_HANGOVER_MS: '500' }).join('\n')).toMatch(/VAD_CHUNK_PAUSE_MS \(600\) must be shorter than VAD_HANGOVER_MS/);
  });

  it('every VAD combination it accepts is one the segmenter takes (pre-roll and onset at the phrase limit)', async () => {
    await initVad();
    for (const [pre, start] of [[900, 60], [920, 40], [880, 90], [1000, 10]] as const) {
      const env = { VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '1000', VAD_PREROLL_MS: String(pre), VAD_START_MS: String(start) };
      const p = problems(env);
      if (p.length) {
        expect(p.join('\n')).toMatch(/VAD_MAX_PHRASE_MS/);
        expect(() => new PhraseSegmenter({ mode: 3, startMs: start, prerollMs: pre, hangoverMs: 500, minPhraseMs: 250, maxPhraseMs: 1000 })).toThrow(RangeError);
      } else {
        new PhraseSegmenter(segmenterOptions(loadConfig(env))).close();
      }
    }
    expect(problems({ VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '1000', VAD_PREROLL_MS: '900', VAD_START_MS: '60' })).toEqual([]);
  });

  it('takes an IP address or a host name as HOST, and names what else it got', () => {
    for (const h of ['0.0.0.0', '::', '127.0.0.1', 'localhost', 'bridge-1.internal']) expect(loadConfig({ HOST: h }).HOST).toBe(h);
    for (const h of ['localhost:8080', 'http://0.0.0.0', ' 0.0.0.0', 'a b']) {
      expect(problems({ HOST: h }).join('\n')).toMatch(/HOST: expected an IP address .* or a host name, without scheme, port or spaces/);
    }
  });

  it('refuses limits under which every call would fail: a message rate below Twilio\'s, too few webhooks for a line, discarded phrases', () => {
    // Twilio sends 50 media messages a second per stream (plus marks and DTMF).
    expect(problems({ WS_MAX_MESSAGES_PER_SEC: '60' }).join('\n')).toMatch(/WS_MAX_MESSAGES_PER_SEC: expected an integer from 100 to 10000/);
    expect(loadConfig({ WS_MAX_MESSAGES_PER_SEC: '100' }).WS_MAX_MESSAGES_PER_SEC).toBe(100);
    const lines = { LINES_CONFIG: 'lines.yaml', TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 't' };
    expect(problems({ ...lines, HTTP_RATE_LIMIT_PER_MIN: '5' }).join('\n')).toMatch(/HTTP_RATE_LIMIT_PER_MIN \(5\) is too low for two-party lines \(LINES_CONFIG\)/);
    expect(problems({ ...lines, HTTP_RATE_LIMIT_PER_MIN: '30' })).toEqual([]);
    expect(problems({ HTTP_RATE_LIMIT_PER_MIN: '5' })).toEqual([]);
    expect(problems({ VAD_MIN_PHRASE_MS: '3000', VAD_MAX_PHRASE_MS: '2200' }).join('\n')).toMatch(/VAD_MIN_PHRASE_MS \(3000\) must be below VAD_MAX_PHRASE_MS \(2200\)/);
  });

  it('recordings: RECORDINGS_DIR needs age recipients; a secret key or a malformed recipient is refused by name', () => {
    const r1 = 'age1gy7n9mm2f7snxn476l0cufryd6vvst5yp6m3ney2smzsrusyw48spzd32v';
    const r2 = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
    expect(loadConfig({}).RECORDINGS_DIR).toBeUndefined();
    const c = loadConfig({ RECORDINGS_DIR: '/var/lib/voice-mask/recordings', RECORDINGS_AGE_RECIPIENTS: ` ${r1}, ${r2} ` });
    expect(c.RECORDINGS_AGE_RECIPIENTS).toEqual([r1, r2]);
    expect(c.RECORDINGS_RETENTION_DAYS).toBe(0);
    expect(c.RECORDINGS_HOTLINE).toBe(true);
    expect(problems({ RECORDINGS_DIR: '/tmp/r' })).toEqual([expect.stringMatching(/^RECORDINGS_AGE_RECIPIENTS: required with RECORDINGS_DIR: .*age-keygen -y/)]);
    const secret = problems({ RECORDINGS_DIR: '/tmp/r', RECORDINGS_AGE_RECIPIENTS: 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ' }).join('\n');
    expect(secret).toMatch(/^RECORDINGS_AGE_RECIPIENTS: an age secret key was given/);
    expect(secret).not.toContain('QQQQ'); // the key is not echoed
    expect(problems({ RECORDINGS_DIR: '/tmp/r', RECORDINGS_AGE_RECIPIENTS: `${r1} age1short` })).toEqual([expect.stringMatching(/^RECORDINGS_AGE_RECIPIENTS: expected age X25519 recipients .*got "age1short"/)]);
    expect(problems({ RECORDINGS_RETENTION_DAYS: '-1' })).toEqual([expect.stringMatching(/^RECORDINGS_RETENTION_DAYS: expected an integer from 0/)]);
  });

  it('requires a key when CONVERTER=elevenlabs', () => {
    expect(problems({ CONVERTER: 'elevenlabs' })).toEqual(['ELEVENLABS_API_KEY: required when CONVERTER=elevenlabs']);
  });

  it('checks playout chunk sizes and booleans', () => {
    expect(problems({ PLAYOUT_CHUNK_MS: '30' })[0]).toMatch(/PLAYOUT_CHUNK_MS: expected a multiple of 20/);
    expect(problems({ ELEVENLABS_REMOVE_BACKGROUND_NOISE: 'maybe' })[0]).toMatch(/ELEVENLABS_REMOVE_BACKGROUND_NOISE: expected a boolean/);
    expect(loadConfig({ ELEVENLABS_REMOVE_BACKGROUND_NOISE: 'yes' }).ELEVENLABS_REMOVE_BACKGROUND_NOISE).toBe(true);
  });
});
