/**
 * The HTTP guards: authentication before any rate bucket (signed webhooks, keyed API calls and
 * unauthenticated traffic in separate buckets, per client behind trusted proxies), security
 * headers, the webhook body limit and the Twilio signature guard (URL with query, parameters,
 * PUBLIC_URL or INSTANCE_URL; repeated parameters refused).
 */
import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioSignatureGuard, securityHeaders, webhookBody } from '../../../src/http/guards.js';
import type { IncomingMessage } from 'node:http';
import { RateLimitStore } from '../../../src/http/rate-limit.js';
import { clientKey, TrustProxy } from '../../../src/twilio/public-url.js';
import { loadConfig } from '../../../src/config/env.js';
import { twilioSignature } from '../../../tools/fakes/twilio-media-client.js';
import { startBridge, type Bridge } from '../../helpers/harness.js';

const log = pino({ level: 'silent' });
const TOKEN = 'guard-test-token';

const PUBLIC = 'https://bridge.example.com';
const API_KEY = 'k'.repeat(40);

describe('rate limits: authenticate first, then count', () => {
  let b: Bridge;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local', HTTP_RATE_LIMIT_PER_MIN: '4', TWILIO_AUTH_TOKEN: TOKEN, PUBLIC_URL: PUBLIC, LOCAL_API_KEY: API_KEY, TRUST_PROXY: 'loopback' });
  });
  afterAll(() => b.close());

  const hook = (form: Record<string, string>, signed: boolean, headers: Record<string, string> = {}) =>
    fetch(`${b.url}/twiml/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signed && { 'x-twilio-signature': twilioSignature(TOKEN, `${PUBLIC}/twiml/inbound`, form) }), ...headers },
      body: new URLSearchParams(form).toString(),
    }).then(async (r) => (await r.arrayBuffer(), r.status));
  const sid = (i: number) => `CA${String(i).padStart(32, '0')}`;

  it('unsigned traffic is refused in its own bucket and never spends the allowance of signed webhooks', async () => {
    const client = { 'x-forwarded-for': '203.0.113.7' };
    const unsigned = [];
    for (let i = 0; i < 8; i++) unsigned.push(await hook({ CallSid: sid(i) }, false, client));
    expect(unsigned).toEqual([403, 403, 403, 403, 429, 429, 429, 429]);
    const signed = [];
    for (let i = 0; i < 6; i++) signed.push(await hook({ CallSid: sid(i) }, true, client));
    expect(signed).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it('webhooks and the API count in separate buckets; a wrong key is counted with the unauthenticated', async () => {
    const client = { 'x-forwarded-for': '203.0.113.8' };
    const api = (key: string) => fetch(`${b.url}/v1/voices`, { headers: { 'xi-api-key': key, ...client } }).then(async (r) => (await r.arrayBuffer(), r.status));
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await hook({ CallSid: sid(i) }, true, client));
    for (let i = 0; i < 5; i++) statuses.push(await api(API_KEY));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429]);
    const wrong = [];
    for (let i = 0; i < 5; i++) wrong.push(await api('wrong-key'));
    expect(wrong).toEqual([401, 401, 401, 401, 429]);
  });

  it('counts each client behind a trusted proxy apart, by its X-Forwarded-For', async () => {
    const from = (ip: string) => hook({ CallSid: sid(1) }, true, { 'x-forwarded-for': `${ip}, 127.0.0.1` });
    for (let i = 0; i < 4; i++) expect(await from('198.51.100.1')).toBe(200);
    expect(await from('198.51.100.1')).toBe(429);
    expect(await from('198.51.100.2')).toBe(200);
  });

  it('refuses a signed webhook whose form repeats a parameter (a second To= is not what was signed)', async () => {
    const form = { CallSid: sid(9), To: '+15005550001' };
    const sig = twilioSignature(TOKEN, `${PUBLIC}/twiml/inbound`, form);
    const res = await fetch(`${b.url}/twiml/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': sig, 'x-forwarded-for': '198.51.100.9' },
      body: `${new URLSearchParams(form).toString()}&To=x`,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/repeated form parameter/);
  });

  it('opens a new window a minute after the first request; forgets the oldest client past its bound', () => {
    const store = new RateLimitStore(2, 3);
    try {
      expect([store.take('a', 0), store.take('a', 1000), store.take('a', 2000)]).toEqual([null, null, 58]);
      expect(store.take('b', 2000)).toBeNull(); // another client, another bucket
      expect(store.take('a', 60_000)).toBeNull();
      store.take('c', 60_000);
      store.take('d', 60_000);
      expect(store.clients).toBeLessThanOrEqual(3);
    } finally {
      store.close();
    }
  });
});

describe('client addresses (TRUST_PROXY)', () => {
  const req = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff ? { 'x-forwarded-for': xff } : {} }) as unknown as IncomingMessage;

  it('believes nobody by default: the socket peer is the client', () => {
    expect(new TrustProxy().clientAddress(req('10.0.0.5', '1.2.3.4'))).toBe('10.0.0.5');
  });

  it('walks X-Forwarded-For right to left through trusted proxies only', () => {
    const t = new TrustProxy({ kind: 'list', entries: ['10.0.0.0/8', 'loopback'] });
    expect(t.clientAddress(req('10.0.0.5', '1.2.3.4, 10.0.0.9'))).toBe('1.2.3.4');
    expect(t.clientAddress(req('10.0.0.5', '6.6.6.6, 1.2.3.4'))).toBe('1.2.3.4'); // a forged entry left of the real client
    expect(t.clientAddress(req('192.0.2.1', '1.2.3.4'))).toBe('192.0.2.1'); // not a proxy of ours
    expect(t.clientAddress(req('::ffff:127.0.0.1', '1.2.3.4'))).toBe('1.2.3.4');
    expect(t.clientAddress(req('10.0.0.5', 'garbage'))).toBe('10.0.0.5');
    const hops = new TrustProxy({ kind: 'hops', hops: 1 });
    expect(hops.clientAddress(req('192.0.2.1', '6.6.6.6, 1.2.3.4'))).toBe('1.2.3.4');
  });

  it('counts an IPv6 client by its /64', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
  });

  it('names a bad TRUST_PROXY at start-up', () => {
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/33' })).toThrow(/TRUST_PROXY: expected false, true, a hop count .*"10\.0\.0\.0\/33"/);
    expect(() => loadConfig({ TRUST_PROXY: 'proxy.example.com' })).toThrow(/TRUST_PROXY/);
    expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).toEqual({ kind: 'hops', hops: 2 });
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.1.0.0/16, ::1' }).TRUST_PROXY).toEqual({ kind: 'list', entries: ['loopback', '10.1.0.0/16', '::1'] });
  });
});

function guarded(opts: { authToken?: string; publicUrl?: string; instanceUrl?: string }) {
  const app = express();
  app.use(securityHeaders);
  app.post('/hook', webhookBody, twilioSignatureGuard(opts.authToken, opts.publicUrl, log, opts.instanceUrl), (_req, res) => void res.send('ok'));
  return app;
}

describe('Twilio signature guard', () => {
  const form = { CallSid: 'CA123', From: '+14155550100', To: '+14155550199' };
  const app = guarded({ authToken: TOKEN, publicUrl: 'https://public.example.com', instanceUrl: 'https://node-2.example.com' });
  const post = (sig: string | undefined, body: Record<string, string> = form, path = '/hook?line=a') => {
    const r = request(app).post(path).type('form');
    if (sig) r.set('x-twilio-signature', sig);
    return r.send(body);
  };

  it('accepts a signature over the public URL (query included) and the POST parameters, or over INSTANCE_URL', async () => {
    expect((await post(twilioSignature(TOKEN, 'https://public.example.com/hook?line=a', form))).status).toBe(200);
    expect((await post(twilioSignature(TOKEN, 'https://node-2.example.com/hook?line=a', form))).status).toBe(200);
  });

  it('refuses a missing signature, tampered parameters, another query or another key (403)', async () => {
    const good = twilioSignature(TOKEN, 'https://public.example.com/hook?line=a', form);
    expect((await post(undefined)).status).toBe(403);
    expect((await post(good, { ...form, To: '+19995550000' })).status).toBe(403);
    expect((await post(good, form, '/hook?line=b')).status).toBe(403);
    expect((await post(twilioSignature('other', 'https://public.example.com/hook?line=a', form))).status).toBe(403);
  });

  it('lets everything through without an auth token (local development)', async () => {
    expect((await request(guarded({})).post('/hook').type('form').send(form)).status).toBe(200);
  });

  it('refuses a webhook body over 32 kB (413) and sets the security headers', async () => {
    const res = await request(guarded({})).post('/hook').type('form').send({ big: 'x'.repeat(40 * 1024) });
    expect(res.status).toBe(413);
    const ok = await request(guarded({})).post('/hook').type('form').send(form);
    expect(ok.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  });
});
