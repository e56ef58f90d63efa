/**
 * The HTTP guards: one rate-limit bucket per client across every route (webhooks and the
 * compatible API share the store), security headers, the webhook body limit and the Twilio
 * signature guard (URL with query, parameters, PUBLIC_URL or INSTANCE_URL).
 */
import express from 'express';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { twilioSignatureGuard, securityHeaders, webhookBody } from '../../../src/http/guards.js';
import { RateLimitStore } from '../../../src/http/rate-limit.js';
import { twilioSignature } from '../../../tools/fakes/twilio-media-client.js';
import { startBridge, type Bridge } from '../../helpers/harness.js';

const log = pino({ level: 'silent' });
const TOKEN = 'guard-test-token';

describe('rate limit', () => {
  let b: Bridge;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local', HTTP_RATE_LIMIT_PER_MIN: '4', LOCAL_API: 'true' });
  });
  afterAll(() => b.close());

  it('counts one bucket per client across the webhook and the API routes', async () => {
    const statuses: number[] = [];
    for (const path of ['/twiml/inbound', '/v1/voices', '/twiml/inbound', '/v1/models', '/v1/voices', '/twiml/inbound']) {
      const res = path.startsWith('/twiml') ? await fetch(b.url + path, { method: 'POST', body: new URLSearchParams({ CallSid: 'CA1' }) }) : await fetch(b.url + path);
      await res.arrayBuffer();
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect(statuses.slice(0, 4).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(4)).toEqual([429, 429]);
  });

  it('opens a new window a minute after the first request', () => {
    const store = new RateLimitStore(2);
    try {
      expect([store.take('a', 0), store.take('a', 1000), store.take('a', 2000)]).toEqual([null, null, 58]);
      expect(store.take('b', 2000)).toBeNull(); // another client, another bucket
      expect(store.take('a', 60_000)).toBeNull();
    } finally {
      store.close();
    }
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
