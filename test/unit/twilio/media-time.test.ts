/**
 * Media time is honest: the silence a timestamp gap inserts is capped by the wall clock and
 * spends the audio-ahead budget like audio does; an empty payload is a protocol error; a stream
 * over budget is closed with a logged reason. Stream parameters are data, never prototype members.
 * The connection runs over a real WebSocket on loopback.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { pino } from 'pino';
import { MediaStreamConnection, type StreamLimits } from '../../../src/twilio/connection.js';
import { GAP_SLACK_MS, MAX_GAP_MS, MediaFramer } from '../../../src/twilio/media-in.js';
import { ownEntry, parseInbound, ProtocolError } from '../../../src/twilio/messages.js';

const SID = 'MZ' + 'f'.repeat(32);
const START = JSON.stringify({
  event: 'start',
  streamSid: SID,
  start: { streamSid: SID, callSid: 'CA' + '1'.repeat(32), customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
});
const media = (timestamp: number | undefined, bytes = 160) =>
  JSON.stringify({ event: 'media', streamSid: SID, media: { ...(timestamp !== undefined && { timestamp: String(timestamp) }), payload: Buffer.alloc(bytes, 0xff).toString('base64') } });

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A server-side MediaStreamConnection (logging to `logs`) and the client socket talking to it. */
async function pair(limits: Partial<StreamLimits>) {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const serverSide = new Promise<MediaStreamConnection>((resolve) =>
    wss.on('connection', (ws) => resolve(new MediaStreamConnection(ws, { maxMessagesPerSec: 10_000, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000, ...limits }, pino({ level: 'debug' }, sink)))),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((r) => client.on('open', r));
  const conn = await serverSide;
  const state = { ended: '', frames: 0 };
  const started = new Promise<void>((resolve) =>
    conn.attach({ onStart: () => resolve(), onMedia: () => state.frames++, onDtmf: () => {}, onEnd: (reason) => (state.ended = reason) }),
  );
  const closed = new Promise<{ code: number; reason: string }>((r) => client.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  cleanups.push(() => {
    client.terminate();
    wss.close();
    server.close();
  });
  client.send(START);
  await started;
  return { conn, client, state, closed, logs };
}

const settle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

describe('MediaFramer: gaps against the wall clock', () => {
  const frames = (f: MediaFramer, n: number, ts: number | undefined, wallMs?: number) => {
    let out = 0;
    f.push(new Uint8Array(n).fill(0xff), ts, () => out++, wallMs);
    return out;
  };

  it('fills a real gap (frames Twilio lost while time passed) with silence', () => {
    const f = new MediaFramer();
    expect(frames(f, 160, 0, 0)).toBe(1);
    // 1 s later on the wall clock, the next frame says 1 s: 49 frames of silence, then it.
    expect(frames(f, 160, 1000, 1000)).toBe(50);
    expect(f.positionMs).toBe(1020);
    expect(f.clampedMs).toBe(0);
  });

  it('fills a jump ahead only up to the wall clock plus the slack', () => {
    const f = new MediaFramer();
    frames(f, 160, 0, 0);
    // A timestamp 5 s ahead at wall time 100 ms: silence only up to 100 ms + slack.
    const n = frames(f, 160, 5000, 100);
    expect(f.positionMs).toBe(100 + GAP_SLACK_MS + 20);
    expect(n).toBe((100 + GAP_SLACK_MS + 20) / 20 - 1);
    // Jumping again at the same wall time inserts nothing more.
    frames(f, 160, 10_000, 100);
    expect(f.positionMs).toBe(100 + GAP_SLACK_MS + 40);
    expect(f.clampedMs).toBeGreaterThan(10_000);
  });

  it('says in advance where a message leaves the stream position', () => {
    const f = new MediaFramer();
    frames(f, 160, 0, 0);
    expect(f.positionAfter(160, 60_000, 60_000)).toBe(20 + MAX_GAP_MS + 20);
    expect(f.positionAfter(160, 60_000, 0)).toBe(GAP_SLACK_MS + 20);
    expect(f.positionAfter(320, undefined, 0)).toBe(60);
  });
});

describe('the audio-ahead budget counts media time', () => {
  it('closes a stream whose timestamps jump ahead, with a logged reason, before it costs seconds of audio', async () => {
    const { conn, client, state, closed, logs } = await pair({ maxAudioAheadMs: 2000 });
    // 60 messages each claiming a 5 s jump: without the cap and the count, 300 s of silence.
    const t0 = performance.now();
    for (let i = 0; i < 60; i++) client.send(media((i + 1) * 5000));
    const { code, reason } = await closed;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(code).toBe(1008);
    expect(reason).toBe('audio faster than real time');
    expect(conn.isOpen).toBe(false);
    // What was processed is bounded by the budget, not by the timestamps: about 3 s, not 300 s.
    expect(state.frames * 20).toBeLessThanOrEqual(2000 + GAP_SLACK_MS + 1000);
    const line = logs.find((l) => String(l.msg).startsWith('caller audio far ahead of real time'));
    expect(line).toMatchObject({ limitMs: 2000 });
    expect(Number(line?.aheadMs)).toBeGreaterThan(2000);
  });

  it('closes a stream whose timestamps run ahead of the wall clock, even at the pace Twilio sends', async () => {
    const { client, closed, state } = await pair({ maxAudioAheadMs: 2000 });
    let i = 0;
    const timer = setInterval(() => client.readyState === client.OPEN && client.send(media(++i * 1000)), 20);
    const { code } = await closed;
    clearInterval(timer);
    expect(code).toBe(1008);
    expect(i).toBeLessThan(10);
    expect(state.frames * 20).toBeLessThan(2000 + GAP_SLACK_MS);
  });

  it('still lets real-time audio with a real gap through', async () => {
    const { conn, client, state } = await pair({ maxAudioAheadMs: 2000 });
    client.send(media(0));
    await settle(600);
    // Frames lost for ~600 ms: the next one is stamped where it belongs.
    client.send(media(600));
    await settle();
    expect(conn.isOpen).toBe(true);
    expect(state.frames).toBeGreaterThanOrEqual(30);
  });

  it('counts an empty payload as a protocol error and processes nothing for it', async () => {
    const { conn, client, state, logs } = await pair({ maxAudioAheadMs: 2000 });
    for (let i = 0; i < 5; i++) client.send(JSON.stringify({ event: 'media', streamSid: SID, media: { timestamp: String((i + 1) * 5000), payload: '' } }));
    await settle();
    expect(state.frames).toBe(0);
    expect(conn.isOpen).toBe(true);
    expect(logs.filter((l) => l.reason === 'bad-payload')).toHaveLength(5);
  });

  it('closes a peer that keeps sending empty payloads, as any malformed flood', async () => {
    const { closed, client } = await pair({ maxAudioAheadMs: 2000, maxProtocolErrors: 10 });
    for (let i = 0; i < 20; i++) client.send(JSON.stringify({ event: 'media', streamSid: SID, media: { payload: '' } }));
    expect((await closed).code).toBe(1008);
  });
});

describe('stream parameters', () => {
  const startWith = (customParameters: Record<string, string>) =>
    parseInbound(
      JSON.stringify({
        event: 'start',
        streamSid: SID,
        start: { streamSid: SID, callSid: 'CA' + '1'.repeat(32), customParameters, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
      }),
    );

  it('are own properties only: names of Object.prototype members find nothing that is not sent', () => {
    const ev = startWith({ voice: 'deep-male' });
    if (ev.event !== 'start') throw new Error('expected start');
    const p = ev.start.customParameters;
    expect(p.voice).toBe('deep-male');
    expect(p.mode).toBeUndefined();
    expect(p.toString).toBeUndefined();
    expect(p.constructor).toBeUndefined();
    expect(Object.getPrototypeOf(p)).toBeNull();
  });

  it('look a route up by its own name only', () => {
    const routes: Record<string, string> = { line: 'the line route' };
    expect(ownEntry(routes, 'line')).toBe('the line route');
    for (const m of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) expect(ownEntry(routes, m)).toBeUndefined();
    expect(ownEntry(undefined, 'line')).toBeUndefined();
    expect(ownEntry(routes, undefined)).toBeUndefined();
  });

  it('are bounded: too many, or a name or value of 500 characters or more, is refused', () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`p${i}`, 'x']));
    const reason = (p: Record<string, string>) => {
      try {
        startWith(p);
        return 'accepted';
      } catch (e) {
        return (e as ProtocolError).reason;
      }
    };
    expect(reason(many)).toBe('invalid-message');
    expect(reason({ token: 'x'.repeat(500) })).toBe('invalid-message');
    expect(reason({ token: 'x'.repeat(499) })).toBe('accepted');
  });
});
