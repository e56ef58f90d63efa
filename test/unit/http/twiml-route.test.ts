import { describe, expect, it } from 'vitest';
import request from 'supertest';
import twilio from 'twilio';
import { pino } from 'pino';
import { createApp, type VoiceCatalog } from '../../../src/http/app.js';
import { loadConfig } from '../../../src/config/env.js';
import { HttpLimits } from '../../../src/http/rate-limit.js';
import { TrustProxy } from '../../../src/twilio/public-url.js';

const log = pino({ level: 'silent' });
const voices: VoiceCatalog = {
  defaultVoiceId: 'neutral-male',
  isValid: (id) => ['neutral-male', 'deep-male', 'a"b'].includes(id),
  describe: () => 'neutral-male, deep-male',
};
const TOKEN = 'test-auth-token-123';
const PUBLIC = 'https://bridge.example.com';
const limits = new HttpLimits(600);

function app(env: Record<string, string> = {}, ready = true) {
  const config = loadConfig(env);
  const own = new HttpLimits(config.HTTP_RATE_LIMIT_PER_MIN, new TrustProxy(config.TRUST_PROXY));
  return createApp({ twilio: { authToken: config.TWILIO_AUTH_TOKEN, publicUrl: config.PUBLIC_URL, instanceUrl: config.INSTANCE_URL }, log, voices, limits: own, isReady: () => ready });
}

describe('POST /twiml/inbound', () => {
  it('answers <Connect><Stream> to the public wss URL with parameters', async () => {
    const res = await request(app({ PUBLIC_URL: PUBLIC })).post('/twiml/inbound?voice=deep-male').type('form').send({ CallSid: 'CA1', From: '+14155550100' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/xml/);
    expect(res.text).toContain('<Connect><Stream url="wss://bridge.example.com/media" name="voice-mask">');
    expect(res.text).toContain('<Parameter name="mode" value="hotline"/>');
    expect(res.text).toContain('<Parameter name="voice" value="deep-male"/>');
    expect(res.text).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\s*<Response>/);
    expect(res.text).not.toContain('{{');
  });

  it('derives the stream URL from X-Forwarded-Proto/-Host when PUBLIC_URL is unset, from a trusted proxy only', async () => {
    const res = await request(app({ TRUST_PROXY: 'loopback' })).post('/twiml/inbound').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'abc.tunnel.test').set('Host', 'internal:8080').type('form').send({});
    expect(res.text).toContain('url="wss://abc.tunnel.test/media"');
    const untrusted = await request(app()).post('/twiml/inbound').set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'abc.tunnel.test').set('Host', 'internal:8080').type('form').send({});
    expect(untrusted.text).toContain('url="ws://internal:8080/media"');
    const plain = await request(app()).post('/twiml/inbound').set('Host', 'localhost:8080').type('form').send({});
    expect(plain.text).toContain('url="ws://localhost:8080/media"');
    expect(plain.text).toContain('<Parameter name="voice" value="neutral-male"/>');
  });

  it('XML-escapes inserted values', async () => {
    const res = await request(app({ PUBLIC_URL: PUBLIC })).post('/twiml/inbound').type('form').send({});
    expect(res.status).toBe(200);
    // the voice pattern forbids quotes, so a hostile voice never reaches the template
    const bad = await request(app({ PUBLIC_URL: PUBLIC })).post('/twiml/inbound?voice=a%22b').type('form').send({});
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('neutral-male, deep-male');
  });

  it('refuses an unknown voice with the list of valid ones', async () => {
    const res = await request(app()).post('/twiml/inbound?voice=nobody').type('form').send({});
    expect(res.status).toBe(400);
    expect(res.text).toMatch(/unknown voice.*neutral-male, deep-male/);
  });

  it('accepts a valid X-Twilio-Signature and refuses a bad or missing one', async () => {
    const a = app({ PUBLIC_URL: PUBLIC, TWILIO_AUTH_TOKEN: TOKEN });
    const params = { CallSid: 'CA123', From: '+14155550100', To: '+14155550199' };
    const url = `${PUBLIC}/twiml/inbound?voice=deep-male`;
    const sig = twilio.getExpectedTwilioSignature(TOKEN, url, params);
    const ok = await request(a).post('/twiml/inbound?voice=deep-male').set('X-Twilio-Signature', sig).type('form').send(params);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<Stream');
    const tampered = await request(a).post('/twiml/inbound?voice=deep-male').set('X-Twilio-Signature', sig).type('form').send({ ...params, From: '+19995550000' });
    expect(tampered.status).toBe(403);
    expect(tampered.text).not.toContain('<Stream');
    const missing = await request(a).post('/twiml/inbound?voice=deep-male').type('form').send(params);
    expect(missing.status).toBe(403);
    const otherUrl = await request(a).post('/twiml/inbound?voice=neutral-male').set('X-Twilio-Signature', sig).type('form').send(params);
    expect(otherUrl.status).toBe(403);
  });

  it('answers 503 while draining', async () => {
    const res = await request(app({}, false)).post('/twiml/inbound').type('form').send({});
    expect(res.status).toBe(503);
  });

  it('limits body size', async () => {
    const res = await request(app()).post('/twiml/inbound').type('form').send({ Big: 'x'.repeat(100_000) });
    expect(res.status).toBe(413);
  });
});

describe('health, readiness, headers', () => {
  it('healthz and readyz', async () => {
    expect((await request(app()).get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await request(app()).get('/readyz')).status).toBe(200);
    const draining = await request(app({}, false)).get('/readyz');
    expect(draining.status).toBe(503);
    expect(draining.body).toEqual({ status: 'draining' });
  });

  it('sends security headers and no x-powered-by', async () => {
    const res = await request(app()).get('/healthz');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('rate-limits the webhook per client', async () => {
    const a = app({ HTTP_RATE_LIMIT_PER_MIN: '3' });
    const codes = [];
    for (let i = 0; i < 5; i++) codes.push((await request(a).post('/twiml/inbound').type('form').send({})).status);
    expect(codes).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('route scoping', () => {
  it('the webhook signature guard applies to the webhook only, not to other routes', async () => {
    const express = (await import('express')).default;
    const extra = express.Router();
    extra.get('/extra', (_req, res) => {
      res.send('open');
    });
    const a = createApp({ twilio: { authToken: TOKEN, publicUrl: undefined, instanceUrl: undefined }, log, voices, limits, isReady: () => true, routers: [extra] });
    expect((await request(a).get('/extra')).text).toBe('open');
    expect((await request(a).post('/twiml/inbound').type('form').send({})).status).toBe(403);
  });
});
