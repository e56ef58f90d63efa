/**
 * Hostile or broken input on the Media Streams socket: each kind is logged, counted and
 * skipped (or the connection closed where that is right), the call goes on, other calls are
 * unaffected, and no frame of unmasked audio ever comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { WebSocket } from 'ws';
import twilio from 'twilio';
import { simulateCall, findLeakedFrames, type SimHooks } from '../../tools/sim/index.js';
import { registry } from '../../src/observability/metrics.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge, type Bridge } from '../helpers/harness.js';

let fake: FakeElevenLabs;
let b: Bridge;
const TOKEN = 'hostile-test-token-7f3a9c';
const KEY = 'sk_live_secret_9d8c7b6a5f4e3d2c1b0a';
const audio = loadClipMulaw('libri8230');

beforeAll(async () => {
  fake = await startFakeElevenLabs({ apiKey: KEY });
  b = await startBridge({
    ELEVENLABS_API_KEY: KEY,
    ELEVENLABS_BASE_URL: fake.baseUrl,
    FALLBACK: 'silence',
    TWILIO_AUTH_TOKEN: TOKEN,
    WS_MAX_MESSAGE_BYTES: '4096',
    WS_MAX_MESSAGES_PER_SEC: '300',
    WS_HEARTBEAT_MS: '1000',
  });
});
afterAll(async () => {
  await b.close();
  await fake.close();
});

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}

/** A call that injects input through `hooks` and must still be served normally. */
async function callWith(hooks: SimHooks) {
  return simulateCall({ url: b.url, audio, authToken: TOKEN, realtime: false, tailMs: 7000, endWhenIdleMs: 1500, hooks });
}

/** A call the bridge is expected to cut off: a short tail, whatever it received is checked for leaks. */
async function cutOffCall(hooks: SimHooks) {
  const r = await simulateCall({ url: b.url, audio, authToken: TOKEN, realtime: false, tailMs: 2000, hooks });
  expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
  return r;
}

function expectServedWithoutLeak(r: Awaited<ReturnType<typeof callWith>>) {
  expect(r.closedBy).toBe('simulator');
  expect(r.receivedAudio.filter((x) => x !== 0xff).length).toBeGreaterThan(8000); // the phrase came back converted
  expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
}

describe('hostile input on the media socket', () => {
  it.concurrent('non-JSON, unknown events, bad base64, wrong streamSid and media before start are skipped; the call goes on', async () => {
    const before = {
      notJson: await counter('voicemask_protocol_errors_total', { reason: 'not-json' }),
      unknown: await counter('voicemask_protocol_errors_total', { reason: 'unknown-event' }),
      invalid: await counter('voicemask_protocol_errors_total', { reason: 'invalid-message' }),
      sid: await counter('voicemask_protocol_errors_total', { reason: 'wrong-stream-sid' }),
      early: await counter('voicemask_protocol_errors_total', { reason: 'before-start' }),
    };
    const r = await callWith({
      onOpen: (raw) => {
        raw.sendEvent('media', { media: { payload: Buffer.from(audio.subarray(0, 160)).toString('base64') } });
      },
      afterStart: (raw) => {
        raw.sendText('this is not json');
        raw.sendText('{"event":"explode"}');
        raw.sendJson({ event: 'media', streamSid: raw.streamSid, media: { payload: '!!not base64!!' } });
        raw.sendJson({ event: 'media', streamSid: 'MZ' + '0'.repeat(32), media: { payload: Buffer.from(audio.subarray(160, 320)).toString('base64') } });
        raw.sendJson({ event: 'dtmf', streamSid: raw.streamSid, dtmf: { digit: 'xx' } });
      },
    });
    expectServedWithoutLeak(r);
    expect(await counter('voicemask_protocol_errors_total', { reason: 'not-json' })).toBeGreaterThan(before.notJson);
    expect(await counter('voicemask_protocol_errors_total', { reason: 'unknown-event' })).toBeGreaterThan(before.unknown);
    expect(await counter('voicemask_protocol_errors_total', { reason: 'invalid-message' })).toBeGreaterThanOrEqual(before.invalid + 2);
    expect(await counter('voicemask_protocol_errors_total', { reason: 'wrong-stream-sid' })).toBeGreaterThan(before.sid);
    expect(await counter('voicemask_protocol_errors_total', { reason: 'before-start' })).toBeGreaterThan(before.early);
    expect(b.logs.some((l) => l.msg === 'inbound message refused: message is not JSON')).toBe(true);
  });

  it.concurrent('a binary frame closes that connection (1003) and only that one', async () => {
    const healthy = callWith({});
    const hostile = cutOffCall({ afterStart: (raw) => raw.sendBinary(new Uint8Array([1, 2, 3])) });
    const [h, x] = await Promise.all([healthy, hostile]);
    expect(x.closedBy).toBe('bridge');
    expect(x.closeCode).toBe(1003);
    expectServedWithoutLeak(h);
  });

  it.concurrent('an oversized message closes the connection (1009)', async () => {
    const r = await cutOffCall({ afterStart: (raw) => raw.sendJson({ event: 'media', streamSid: raw.streamSid, media: { payload: 'A'.repeat(8000) } }) });
    expect(r.closedBy).toBe('bridge');
    expect(r.closeCode).toBe(1009);
  });

  it.concurrent('a message flood closes the connection (1008) and is counted', async () => {
    const before = await counter('voicemask_ws_closed_total', { reason: 'flood' });
    const r = await cutOffCall({
      afterStart: (raw) => {
        for (let i = 0; i < 1000; i++) raw.sendJson({ event: 'mark', streamSid: raw.streamSid, mark: { name: `m${i}` } });
      },
    });
    expect(r.closedBy).toBe('bridge');
    expect(r.closeCode).toBe(1008);
    expect(await counter('voicemask_ws_closed_total', { reason: 'flood' })).toBe(before + 1);
  });

  it.concurrent('an unsigned or wrongly signed upgrade is refused with 403 and opens nothing', async () => {
    // The stream URL a voice webhook hands out: bound to its call (src/twilio/stream-tokens.ts).
    const wsUrl = b.url.replace('http', 'ws') + '/media/' + b.streamTokens.issue(`CA${'5'.repeat(32)}`);
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => {});
      });
    expect(await status({})).toBe(403);
    expect(await status({ 'X-Twilio-Signature': twilio.getExpectedTwilioSignature('wrong-token', wsUrl, {}) })).toBe(403);
    expect(await status({ 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(TOKEN, wsUrl, {}) })).toBe(101);
    // The same signed handshake again (a replay) opens nothing; nor does the bare path, signed.
    expect(await status({ 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(TOKEN, wsUrl, {}) })).toBe(403);
    const bare = b.url.replace('http', 'ws') + '/media';
    expect(
      await new Promise<number>((resolve) => {
        const ws = new WebSocket(bare, { headers: { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(TOKEN, bare, {}) } });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => resolve(101));
        ws.on('error', () => {});
      }),
    ).toBe(403);
    const other = await new Promise<number>((resolve) => {
      const ws = new WebSocket(b.url.replace('http', 'ws') + '/elsewhere');
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    });
    expect(other).toBe(404);
  });

  it.concurrent('an upgrade whose Host cannot form a URL is refused (403); the process survives', async () => {
    const { port } = new URL(b.url);
    const raw = (headers: string) =>
      new Promise<string>((resolve, reject) => {
        const s = net.connect(Number(port), '127.0.0.1', () => {
          s.write(`GET /media HTTP/1.1\r\n${headers}Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Twilio-Signature: forged\r\n\r\n`);
        });
        let text = '';
        s.on('data', (d) => (text += String(d)));
        s.on('close', () => resolve(text));
        s.on('error', reject);
        setTimeout(() => s.destroy(), 3000); // no answer at all: the handler threw
      });
    expect(await raw('Host: [\r\n')).toMatch(/^HTTP\/1\.1 403/);
    expect(await raw(`Host: 127.0.0.1:${port}\r\nX-Forwarded-Host: a b\r\n`)).toMatch(/^HTTP\/1\.1 403/);
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  });

  it('never logs the API key, the auth token, full phone numbers or audio', async () => {
    await simulateCall({ url: b.url, audio, authToken: TOKEN, realtime: false, tailMs: 3000, endWhenIdleMs: 1000, form: { From: '+14155550123', To: '+14155550188' } });
    const all = b.rawLogs.join('\n');
    expect(b.rawLogs.length).toBeGreaterThan(5);
    expect(all).not.toContain(KEY);
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('4155550123');
    expect(all).not.toContain('4155550188');
    expect(all).toContain('*******0123'); // masked, still traceable
    // no base64 audio payloads either
    expect(all).not.toMatch(/[A-Za-z0-9+/]{200,}/);
  });

  it.concurrent('a dead peer that stops answering pings is closed by the heartbeat', async () => {
    const wsUrl = b.url.replace('http', 'ws') + '/media/' + b.streamTokens.issue(`CA${'6'.repeat(32)}`);
    const ws = new WebSocket(wsUrl, { headers: { 'X-Twilio-Signature': twilio.getExpectedTwilioSignature(TOKEN, wsUrl, {}) }, autoPong: false });
    const started = Date.now();
    const closed = await new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    expect(closed).toBe(1006); // terminated, no close frame
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
