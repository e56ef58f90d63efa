/** LOCAL_API_KEY guards a public port: a short (guessable) key is refused at start-up, without echoing it. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/env.js';

describe('LOCAL_API_KEY', () => {
  it('takes 32 characters or more; refuses fewer, naming the variable and how to make one, never the key', () => {
    expect(loadConfig({ LOCAL_API_KEY: 'a'.repeat(32) }).LOCAL_API_KEY).toBe('a'.repeat(32));
    expect(loadConfig({ LOCAL_API_KEY: '' }).LOCAL_API_KEY).toBeUndefined();
    const e = (() => {
      try {
        loadConfig({ LOCAL_API_KEY: 'short-secret-123' });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/LOCAL_API_KEY: expected at least 32 characters/);
    expect((e as Error).message).not.toMatch(/short-secret-123/);
  });
});
