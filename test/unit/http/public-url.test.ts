/** PUBLIC_URL and INSTANCE_URL: the shapes that cannot be signed over, and combinations that cannot work. */
import { describe, expect, it } from 'vitest';
import { ConfigError, configWarnings, loadConfig } from '../../../src/config/env.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('PUBLIC_URL and INSTANCE_URL', () => {
  it('accept an https origin, with a path prefix, and drop a trailing slash', () => {
    const c = loadConfig({ PUBLIC_URL: 'https://line.example.com/', INSTANCE_URL: 'https://vm-1.example.com/voice/' });
    expect(c.PUBLIC_URL).toBe('https://line.example.com');
    expect(c.INSTANCE_URL).toBe('https://vm-1.example.com/voice');
  });

  it.each(['PUBLIC_URL', 'INSTANCE_URL'])('%s: refuses what Twilio cannot sign or reach, saying what to give', (k) => {
    expect(problems({ [k]: 'wss://x.example.com' })[0]).toMatch(new RegExp(`^${k}: expected the https:// form \\(the stream's wss:// URL is derived from it\\)`));
    expect(problems({ [k]: 'https://x.example.com/?a=1' })[0]).toMatch(new RegExp(`^${k}: expected no query string`));
    expect(problems({ [k]: 'https://x.example.com/#top' })[0]).toMatch(new RegExp(`^${k}: expected no #fragment`));
    expect(problems({ [k]: 'https://u:p@x.example.com' })[0]).toMatch(new RegExp(`^${k}: expected no user:password@`));
    expect(problems({ [k]: 'x.example.com' })[0]).toMatch(new RegExp(`^${k}: expected an absolute https:// URL, got "x.example.com"`));
  });

  it('both set is a supported combination (balancer + this instance)', () => {
    expect(problems({ PUBLIC_URL: 'https://line.example.com', INSTANCE_URL: 'https://vm-1.example.com' })).toEqual([]);
    expect(problems({ PUBLIC_URL: 'http://127.0.0.1:8080', INSTANCE_URL: 'http://127.0.0.1:8081' })).toEqual([]);
  });

  it('refuses https beside http, naming both variables and what to set', () => {
    const [p] = problems({ PUBLIC_URL: 'https://line.example.com', INSTANCE_URL: 'http://vm-1.example.com' });
    expect(p).toMatch(/^PUBLIC_URL and INSTANCE_URL: PUBLIC_URL is https:\/\/ but INSTANCE_URL is http:\/\/.*only over wss:\/\/.*Set INSTANCE_URL to its https:\/\/ address/);
    const [q] = problems({ PUBLIC_URL: 'http://line.example.com', INSTANCE_URL: 'https://vm-1.example.com' });
    expect(q).toMatch(/INSTANCE_URL is https:\/\/ but PUBLIC_URL is http:\/\/.*Set PUBLIC_URL to its https:\/\/ address/);
  });

  it('warns about INSTANCE_URL without two-party lines, and plain http URLs', () => {
    const w = configWarnings(loadConfig({ INSTANCE_URL: 'http://vm-1.example.com' }));
    expect(w.join('\n')).toMatch(/INSTANCE_URL is set but LINES_CONFIG is not/);
    expect(w.join('\n')).toMatch(/INSTANCE_URL is http:\/\/: Twilio requires wss:\/\//);
    expect(configWarnings(loadConfig({ PUBLIC_URL: 'https://line.example.com' }))).toEqual([]);
  });
});
