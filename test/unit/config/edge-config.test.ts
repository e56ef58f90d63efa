/** The edge's settings: each bad value or combination is named at start-up with what to set. */
import { describe, expect, it } from 'vitest';
import { ConfigError, configWarnings, isLoopbackHost, listenProblems, loadConfig } from '../../../src/config/env.js';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

describe('edge settings', () => {
  it('defaults: nobody trusted, /metrics on the port to loopback, keep-alive above 65 s, cap from MAX_CALLS', () => {
    const c = loadConfig({});
    expect(c.TRUST_PROXY).toEqual({ kind: 'none' });
    expect(c.METRICS_PORT).toBeUndefined();
    expect(c.METRICS_HOST).toBe('127.0.0.1');
    expect(c.HTTP_KEEPALIVE_TIMEOUT_MS).toBeGreaterThan(65_000);
    expect(c.HTTP_MAX_CONNECTIONS).toBeUndefined();
    expect(c.ALLOW_UNSIGNED_TWILIO).toBe(false);
  });

  it('names a bad number, a cap below the streams it must hold, and a metrics port on PORT', () => {
    expect(problems({ METRICS_PORT: 'x' }).join('\n')).toMatch(/^METRICS_PORT: expected an integer from 0 to 65535, got "x"/);
    expect(problems({ HTTP_KEEPALIVE_TIMEOUT_MS: '1000' }).join('\n')).toMatch(/^HTTP_KEEPALIVE_TIMEOUT_MS: expected an integer from 5000/);
    expect(problems({ MAX_CALLS: '200', HTTP_MAX_CONNECTIONS: '100' }).join('\n')).toMatch(/HTTP_MAX_CONNECTIONS \(100\) must be at least MAX_CALLS \+ 16 \(216\)/);
    expect(problems({ PORT: '9000', METRICS_PORT: '9000' }).join('\n')).toMatch(/METRICS_PORT \(9000\) must differ from PORT/);
    expect(problems({ ALLOW_UNSIGNED_TWILIO: 'sure' }).join('\n')).toMatch(/^ALLOW_UNSIGNED_TWILIO: expected a boolean/);
    expect(problems({ MAX_CALLS: '200', HTTP_MAX_CONNECTIONS: '216', METRICS_PORT: '0' })).toEqual([]);
  });

  it('refuses unauthenticated or Host-derived signatures on an address others can reach, and nothing on loopback', () => {
    expect(listenProblems(loadConfig({ HOST: '0.0.0.0' }))).toEqual([expect.stringMatching(/^TWILIO_AUTH_TOKEN: required when HOST \(0\.0\.0\.0\)/)]);
    expect(listenProblems(loadConfig({ HOST: '::', TWILIO_AUTH_TOKEN: 't' }))).toEqual([expect.stringMatching(/^PUBLIC_URL: required when TWILIO_AUTH_TOKEN is set/)]);
    expect(listenProblems(loadConfig({ HOST: '0.0.0.0', TWILIO_AUTH_TOKEN: 't', PUBLIC_URL: 'https://v.example.com' }))).toEqual([]);
    expect(listenProblems(loadConfig({ HOST: '0.0.0.0', ALLOW_UNSIGNED_TWILIO: 'true' }))).toEqual([]);
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) {
      expect(isLoopbackHost(h)).toBe(true);
      expect(listenProblems(loadConfig({ HOST: h }))).toEqual([]);
    }
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'bridge.internal']) expect(isLoopbackHost(h)).toBe(false);
  });

  it('warns when TRUST_PROXY believes every peer', () => {
    expect(configWarnings(loadConfig({ TRUST_PROXY: 'true' })).join('\n')).toMatch(/TRUST_PROXY=true believes X-Forwarded-For\/-Host\/-Proto from every peer/);
    expect(configWarnings(loadConfig({ TRUST_PROXY: 'loopback' }))).toEqual([]);
  });
});
