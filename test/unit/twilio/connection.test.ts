/**
 * MediaStreamConnection's per-connection limits over a real WebSocket on loopback: a peer that
 * never reads, a socket that never starts, and the message-rate bucket (bursts pass, floods don't).
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { pino } from 'pino';
import { MediaStreamConnection, type StreamLimits } from '../../../src/twilio/connection.js';
import { asMasked } from '../../../src/voice/masked.js';

const SID = 'MZ' + 'f'.repeat(32);
const START = JSON.stringify({
  event: 'start',
  streamSid: SID,
  start: { streamSid: SID, callSid: 'CA' + '1'.repeat(32), customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
});
const MEDIA = JSON.stringify({ event: 'media', streamSid: SID, media: { payload: Buffer.alloc(160, 0xff).toString('base64') } });

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A real server-side MediaStreamConnection and the client socket talking to it. */
async function pair(limits: Partial<StreamLimits>) {
  const server = http.createServer();
  const wss = new WebSocketServer({ server });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const serverSide = new Promise<MediaStreamConnection>((resolve) =>
    wss.on('connection', (ws) =>
      resolve(new MediaStreamConnection(ws, { maxMessagesPerSec: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000, ...limits }, pino({ level: 'silent' }))),
    ),
  );
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  await new Promise((r) => client.on('open', r));
  const conn = await serverSide;
  const state = { ended: '', media: 0 };
  const started = new Promise<void>((resolve) =>
    conn.attach({ onStart: () => resolve(), onMedia: () => state.media++, onDtmf: () => {}, onEnd: (reason) => (state.ended = reason) }),
  );
  const closed = new Promise<number>((r) => client.on('close', (c) => r(c)));
  cleanups.push(() => {
    client.terminate();
    wss.close();
    server.close();
  });
  return { conn, client, state, started, closed };
}

describe('MediaStreamConnection limits', () => {
  it('closes a connection whose peer stops reading once the outbound buffer passes the limit', async () => {
    const { conn, client, state, started } = await pair({});
    client.send(START);
    await started;
    // The client stops reading its socket: the kernel buffers fill, then ws buffers.
    (client as unknown as { _socket: import('node:net').Socket })._socket.pause();
    // Everything the connection sends goes through its clock; a lead far past real time sends at once.
    const out = conn.openOutput({ chunkMs: 100, leadMs: 1e12, clearBacklogMs: 0 });
    const minute = asMasked(new Uint8Array(60 * 8000).fill(0xff));
    let rounds = 0;
    for (; rounds < 2000 && conn.isOpen; rounds++) {
      const slot = out.openSlot();
      slot.write(minute);
      slot.end();
      await new Promise((r) => setImmediate(r));
    }
    expect(conn.isOpen).toBe(false);
    expect(state.ended).toBe('slow consumer');
    expect(rounds).toBeLessThan(2000);
  });

  it('has one outbound clock: it opens once, after start, and a second one is refused', async () => {
    const { conn, client, started } = await pair({});
    expect(() => conn.openOutput({ chunkMs: 20, clearBacklogMs: 0 })).toThrow(/before the stream started/);
    client.send(START);
    await started;
    const out = conn.openOutput({ chunkMs: 20, clearBacklogMs: 0 });
    expect(conn.output).toBe(out);
    expect(() => conn.openOutput({ chunkMs: 20, clearBacklogMs: 0 })).toThrow(/already has its outbound clock/);
  });

  it('closes a socket that never sends start (it would hold a call slot for as long as it answers pings)', async () => {
    const { client, state, closed } = await pair({ startTimeoutMs: 300 });
    client.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    expect(await closed).toBe(1008);
    expect(state.ended).toMatch(/no start/);
  });

  it('lets the bunched frames after a network stall through, but closes a flood', async () => {
    const { conn, client, state, started } = await pair({ maxMessagesPerSec: 100 });
    client.send(START);
    await started;
    // 3 s of frames (150) arriving at once after a stall: within the 2 s burst (200 messages).
    for (let i = 0; i < 150; i++) client.send(MEDIA);
    await new Promise((r) => setTimeout(r, 200));
    expect(state.media).toBe(150);
    expect(conn.isOpen).toBe(true);
    // A flood: far more than the burst at once.
    for (let i = 0; i < 400; i++) client.send(MEDIA);
    await new Promise((r) => setTimeout(r, 200));
    expect(conn.isOpen).toBe(false);
    expect(state.media).toBeLessThan(550);
  });
});

describe('MediaStreamConnection audio budget', () => {
  it('closes a stream whose audio runs far ahead of real time, after letting a stall catch up', async () => {
    const { conn, client, state, started } = await pair({ maxMessagesPerSec: 10_000, maxAudioAheadMs: 2000 });
    client.send(START);
    await started;
    // 1.5 s of frames at once (a stall catching up): within the 2 s budget.
    for (let i = 0; i < 75; i++) client.send(MEDIA);
    await new Promise((r) => setTimeout(r, 150));
    expect(conn.isOpen).toBe(true);
    expect(state.media).toBe(75);
    // Another 2 s at once: 3.5 s of audio in well under a second.
    for (let i = 0; i < 100; i++) client.send(MEDIA);
    await new Promise((r) => setTimeout(r, 150));
    expect(conn.isOpen).toBe(false);
    expect(state.media).toBeLessThan(175);
  });
});
