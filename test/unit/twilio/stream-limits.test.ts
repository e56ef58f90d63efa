/** MediaStreamConnection's outbound bound: a peer that never reads is cut off, not buffered forever. */
import { describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { pino } from 'pino';
import { MediaStreamConnection } from '../../../src/twilio/stream.js';

describe('MediaStreamConnection limits', () => {
  it('closes a connection whose peer stops reading once the outbound buffer passes the limit', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const serverSide = new Promise<MediaStreamConnection>((resolve) =>
      wss.on('connection', (ws) => resolve(new MediaStreamConnection(ws, { maxMessagesPerSec: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000 }, pino({ level: 'silent' })))),
    );
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => client.on('open', r));
    const conn = await serverSide;
    let ended = '';
    const started = new Promise<void>((resolve) =>
      conn.attach({ onStart: () => resolve(), onMedia: () => {}, onDtmf: () => {}, onMark: () => {}, onEnd: (reason) => (ended = reason) }),
    );
    const sid = 'MZ' + 'f'.repeat(32);
    client.send(
      JSON.stringify({
        event: 'start',
        streamSid: sid,
        start: { streamSid: sid, callSid: 'CA' + '1'.repeat(32), customParameters: {}, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
      }),
    );
    await started;
    // The client stops reading its socket: the kernel buffers fill, then ws buffers.
    (client as unknown as { _socket: import('node:net').Socket })._socket.pause();
    const chunk = new Uint8Array(48 * 1024).fill(0xff);
    let sent = 0;
    for (let i = 0; i < 2000 && conn.isOpen; i++) {
      if (conn.sendMedia(chunk)) sent++;
      await new Promise((r) => setImmediate(r));
    }
    expect(conn.isOpen).toBe(false);
    expect(ended).toBe('slow consumer');
    expect(sent).toBeLessThan(2000);
    client.terminate();
    wss.close();
    server.close();
  });

  it('closes a socket that never sends start (it would hold a call slot for as long as it answers pings)', async () => {
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const serverSide = new Promise<MediaStreamConnection>((resolve) =>
      wss.on('connection', (ws) =>
        resolve(new MediaStreamConnection(ws, { maxMessagesPerSec: 100, maxBufferedBytes: 256 * 1024, heartbeatMs: 60_000, startTimeoutMs: 300 }, pino({ level: 'silent' }))),
      ),
    );
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => client.on('open', r));
    const conn = await serverSide;
    let ended = '';
    conn.attach({ onStart: () => {}, onMedia: () => {}, onDtmf: () => {}, onMark: () => {}, onEnd: (reason) => (ended = reason) });
    client.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
    const code = await new Promise<number>((r) => client.on('close', (c) => r(c)));
    expect(code).toBe(1008);
    expect(ended).toMatch(/no start/);
    wss.close();
    server.close();
  });
});
