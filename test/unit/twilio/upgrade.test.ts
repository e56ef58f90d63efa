/**
 * The Media Streams upgrade (src/twilio/upgrade.ts) on a real bridge: the path, the
 * X-Twilio-Signature over the public wss:// URL (PUBLIC_URL, INSTANCE_URL, or the proxy's
 * forwarded host), refusals as plain HTTP statuses before any WebSocket exists.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTwilio, twilioSignature } from '../../../tools/fakes/twilio-media-client.js';
import { startBridge, type Bridge } from '../../helpers/harness.js';

const TOKEN = 'f'.repeat(32);
const PUBLIC = 'https://voice.example.com';
const INSTANCE = 'https://node-1.example.com';

/** A raw upgrade request with any headers (Host included): the status the bridge answers. */
function rawUpgrade(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

const callSid = () => `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;

describe('media stream upgrade, signed', () => {
  let b: Bridge;
  let ws: string;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local', TWILIO_AUTH_TOKEN: TOKEN, PUBLIC_URL: PUBLIC, INSTANCE_URL: INSTANCE });
    ws = `${b.url.replace(/^http/, 'ws')}/media`;
  });
  afterAll(() => b.close());

  it('accepts a signature over the public wss:// URL, and over INSTANCE_URL, of a per-call stream path', async () => {
    for (const base of ['wss://voice.example.com', 'wss://node-1.example.com']) {
      const path = `/media/${b.streamTokens.issue(callSid())}`;
      const c = await connectTwilio(`${b.url.replace(/^http/, 'ws')}${path}`, { signWith: TOKEN, signedUrl: `${base}${path}` });
      c.ws.close();
      await c.closed;
    }
  });

  it('checks the path only: a query string on the request does not enter the signed URL', async () => {
    const path = `/media/${b.streamTokens.issue(callSid())}`;
    const c = await connectTwilio(`${b.url.replace(/^http/, 'ws')}${path}?ignored=1`, { signWith: TOKEN, signedUrl: `wss://voice.example.com${path}` });
    c.ws.close();
    await c.closed;
  });

  it('refuses the bare path, however well signed: its signature is the same for every stream (replayable)', async () => {
    await expect(connectTwilio(ws, { signWith: TOKEN, signedUrl: 'wss://voice.example.com/media' })).rejects.toMatchObject({ status: 403 });
    expect(b.logs.some((l) => l.reason === 'no-stream-token')).toBe(true);
  });

  it('opens a per-call stream path once: the same signed handshake again is refused', async () => {
    const path = `/media/${b.streamTokens.issue(callSid())}`;
    const o = { signWith: TOKEN, signedUrl: `wss://voice.example.com${path}` };
    const c = await connectTwilio(`${b.url.replace(/^http/, 'ws')}${path}`, o);
    await expect(connectTwilio(`${b.url.replace(/^http/, 'ws')}${path}`, o)).rejects.toMatchObject({ status: 403 });
    c.ws.close();
    await c.closed;
    expect(b.logs.some((l) => l.reason === 'stream-token-replayed')).toBe(true);
    // A forged token, signed correctly, opens nothing either.
    const forged = `/media/${callSid()}.zzzzzz.AAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA`;
    await expect(connectTwilio(`${b.url.replace(/^http/, 'ws')}${forged}`, { signWith: TOKEN, signedUrl: `wss://voice.example.com${forged}` })).rejects.toMatchObject({ status: 403 });
  });

  it('refuses a missing, wrong or differently-keyed signature with 403', async () => {
    await expect(connectTwilio(ws)).rejects.toMatchObject({ status: 403 });
    await expect(connectTwilio(ws, { headers: { 'x-twilio-signature': 'bm90IGEgc2lnbmF0dXJl' } })).rejects.toMatchObject({ status: 403 });
    await expect(connectTwilio(ws, { signWith: 'another-token', signedUrl: 'wss://voice.example.com/media' })).rejects.toMatchObject({ status: 403 });
    // signed for another path or host
    await expect(connectTwilio(ws, { signWith: TOKEN, signedUrl: 'wss://voice.example.com/other' })).rejects.toMatchObject({ status: 403 });
    await expect(connectTwilio(ws, { signWith: TOKEN, signedUrl: 'wss://evil.example.com/media' })).rejects.toMatchObject({ status: 403 });
    expect(b.logs.filter((l) => l.reason === 'bad-signature').length).toBeGreaterThanOrEqual(5);
  });

  it('answers 404 on another path, before looking at the signature', async () => {
    expect(await rawUpgrade(`${b.url}/not-media`, {})).toBe(404);
  });
});

describe('media stream upgrade, behind a proxy without PUBLIC_URL', () => {
  let b: Bridge;
  let untrusting: Bridge;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local', TWILIO_AUTH_TOKEN: TOKEN, TRUST_PROXY: 'loopback' });
    untrusting = await startBridge({ CONVERTER: 'local', TWILIO_AUTH_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await b.close();
    await untrusting.close();
  });

  it('checks the signature over the forwarded proto and host of a trusted proxy', async () => {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'tunnel.example.net' };
    const path = `/media/${b.streamTokens.issue(callSid())}`;
    const sig = twilioSignature(TOKEN, `wss://tunnel.example.net${path}`);
    expect(await rawUpgrade(`${b.url}${path}`, { 'x-twilio-signature': sig })).toBe(403);
    expect(await rawUpgrade(`${b.url}${path}`, { ...headers, 'x-twilio-signature': sig })).toBe(101);
  });

  it('ignores forwarded headers from a peer TRUST_PROXY does not name', async () => {
    const headers = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'tunnel.example.net' };
    const path = `/media/${untrusting.streamTokens.issue(callSid())}`;
    const sig = twilioSignature(TOKEN, `wss://tunnel.example.net${path}`);
    expect(await rawUpgrade(`${untrusting.url}${path}`, { ...headers, 'x-twilio-signature': sig })).toBe(403);
  });

  it('treats a Host that is not a URL as a bad signature, and keeps serving', async () => {
    expect(await rawUpgrade(`${b.url}/media`, { host: 'bad host[', 'x-twilio-signature': 'x' })).toBe(403);
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  });
});

describe('media stream upgrade, no auth token', () => {
  it('accepts an unsigned stream (local development)', async () => {
    const b = await startBridge({ CONVERTER: 'local' });
    try {
      const c = await connectTwilio(`${b.url.replace(/^http/, 'ws')}/media`);
      c.ws.close();
      await c.closed;
    } finally {
      await b.close();
    }
  });
});
