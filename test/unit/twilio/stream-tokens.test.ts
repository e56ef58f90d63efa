/**
 * Streams bound to one call: per-call stream tokens (issued by the hotline webhook, checked and
 * spent at the upgrade), the admission policy at `start`, and the closing of a started stream
 * that sends no media; on a real bridge over loopback where a socket is involved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamAdmission, StreamTokens, STREAM_TOKEN_TTL_MS } from '../../../src/twilio/stream-tokens.js';
import { connectTwilio, twilioSignature } from '../../../tools/fakes/twilio-media-client.js';
import { startBridge, type Bridge } from '../../helpers/harness.js';

const CALL = `CA${'a'.repeat(32)}`;
const OTHER = `CA${'b'.repeat(32)}`;
const TOKEN = 't'.repeat(32);
const PUBLIC = 'https://voice.example.com';

describe('StreamTokens', () => {
  it('names the call it was issued to, is different every time, and opens one stream', () => {
    const t = new StreamTokens();
    const a = t.issue(CALL, 1_000_000);
    expect(a.startsWith(`${CALL}.`)).toBe(true);
    expect(t.issue(CALL, 1_000_000)).not.toBe(a);
    expect(t.check(a, 1_000_500)).toMatchObject({ ok: true, callSid: CALL });
    expect(t.spend(a, 1_000_500)).toMatchObject({ ok: true });
    expect(t.spend(a, 1_000_600)).toEqual({ ok: false, reason: 'replayed' });
  });

  it('expires, and cannot be forged, altered or moved to another call or another secret', () => {
    const t = new StreamTokens('s'.repeat(32));
    const a = t.issue(CALL, 0);
    expect(t.check(a, STREAM_TOKEN_TTL_MS + 1000)).toEqual({ ok: false, reason: 'expired' });
    expect(t.check(a.replace(CALL, OTHER), 0)).toEqual({ ok: false, reason: 'forged' });
    const [sid, , nonce, mac] = a.split('.');
    expect(t.check(`${sid}.zzzzzz.${nonce}.${mac}`, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(new StreamTokens('o'.repeat(32)).check(a, 0)).toEqual({ ok: false, reason: 'forged' });
    expect(new StreamTokens('s'.repeat(32)).check(a, 0)).toMatchObject({ ok: true }); // same secret: another instance agrees
    for (const junk of ['', 'x', `${CALL}..`, `${a}/x`, 'A'.repeat(200), 42, undefined]) expect(t.check(junk, 0)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(() => t.issue('not-a-call-sid')).toThrow(RangeError);
  });
});

describe('StreamAdmission', () => {
  const start = (callSid: string, mode?: string) => ({ callSid, customParameters: (mode ? { mode } : {}) as Record<string, string> });

  it('refuses a start for another call than the token named, and a second stream of one call', () => {
    const a = new StreamAdmission({ requireToken: true, tokenlessModes: ['line'] });
    expect(a.admit({ callSid: CALL }, start(OTHER))).toMatch(/another call/);
    expect(a.admit({ callSid: CALL }, start(CALL))).toBeUndefined();
    expect(a.admit({ callSid: CALL }, start(CALL))).toMatch(/already has a stream/);
    a.ended(CALL);
    expect(a.admit({ callSid: CALL }, start(CALL))).toBeUndefined();
  });

  it('with signatures on, lets a tokenless stream be only a kind that binds itself (a room)', () => {
    const a = new StreamAdmission({ requireToken: true, tokenlessModes: ['line'] });
    expect(a.admit({}, start(CALL))).toMatch(/needs a stream token/);
    expect(a.admit({}, start(CALL, 'hotline'))).toMatch(/needs a stream token/);
    expect(a.admit({}, start(CALL, 'toString'))).toMatch(/needs a stream token/);
    expect(a.admit({}, start(CALL, 'line'))).toBeUndefined();
    const open = new StreamAdmission({ requireToken: false, tokenlessModes: [] });
    expect(open.admit({}, start(OTHER))).toBeUndefined();
  });
});

describe('a hotline call on a signed bridge', () => {
  let b: Bridge;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local', TWILIO_AUTH_TOKEN: TOKEN, PUBLIC_URL: PUBLIC });
  });
  afterAll(() => b.close());

  const webhook = async (callSid: string) => {
    const form = { CallSid: callSid, From: '+15005550006', To: '+15005550001' };
    const res = await fetch(`${b.url}/twiml/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(TOKEN, `${PUBLIC}/twiml/inbound`, form) },
      body: new URLSearchParams(form).toString(),
    });
    const twiml = await res.text();
    return { status: res.status, url: /<Stream url="([^"]+)"/.exec(twiml)?.[1] };
  };
  /** A start for `callSid` (the fake client's own start names a random call). */
  const startAs = (c: Awaited<ReturnType<typeof connectTwilio>>, callSid: string) =>
    c.ws.send(
      JSON.stringify({
        event: 'start',
        streamSid: c.streamSid,
        start: { streamSid: c.streamSid, callSid, tracks: ['inbound'], customParameters: { mode: 'hotline' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
      }),
    );
  const open = (streamUrl: string) => {
    const path = new URL(streamUrl).pathname;
    return connectTwilio(`${b.url.replace(/^http/, 'ws')}${path}`, { signWith: TOKEN, signedUrl: streamUrl });
  };

  it('answers with a stream URL of its own, which opens once, for that call only', async () => {
    const callSid = `CA${'1'.repeat(32)}`;
    const hook = await webhook(callSid);
    expect(hook.status).toBe(200);
    expect(hook.url).toMatch(new RegExp(`^wss://voice\\.example\\.com/media/${callSid}\\.[0-9a-z]+\\.[\\w-]{8}\\.[\\w-]{22}$`));
    const c = await open(hook.url!);
    // The replayed handshake (same URL, same signature) is refused before any socket exists.
    await expect(open(hook.url!)).rejects.toMatchObject({ status: 403 });
    startAs(c, callSid);
    for (let i = 0; i < 10; i++) c.media(new Uint8Array(160).fill(0xff));
    await new Promise((r) => setTimeout(r, 300));
    expect(c.ws.readyState).toBe(c.ws.OPEN);
    c.stop();
    await c.closed;
  });

  it('refuses a start for another call than the URL was issued to (1008)', async () => {
    const hook = await webhook(`CA${'2'.repeat(32)}`);
    const c = await open(hook.url!);
    c.start({ mode: 'hotline' }); // the fake client starts with its own random CallSid
    expect((await c.closed).code).toBe(1008);
    expect(b.logs.some((l) => l.why === 'stream token issued to another call')).toBe(true);
  });

  it('closes a started stream that sends no media for 5 s', async () => {
    const callSid = `CA${'3'.repeat(32)}`;
    const hook = await webhook(callSid);
    const c = await open(hook.url!);
    startAs(c, callSid);
    const t0 = Date.now();
    const { code, reason } = await c.closed;
    expect(code).toBe(1008);
    expect(reason).toBe('no media');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);
    expect(Date.now() - t0).toBeLessThan(8000);
  }, 15_000);

  it('refuses a webhook without a CallSid (no stream can be bound to it)', async () => {
    const form = { From: '+15005550006' };
    const res = await fetch(`${b.url}/twiml/inbound`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(TOKEN, `${PUBLIC}/twiml/inbound`, form) },
      body: new URLSearchParams(form).toString(),
    });
    expect(res.status).toBe(400);
  });
});
