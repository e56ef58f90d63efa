/**
 * A tiny loopback stand-in for the bridge (node:http + ws noServer), for testing the simulator
 * itself: answers TwiML, optionally checks signatures, and runs a per-test script on the socket.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulawEncode } from '../../src/audio/mulaw.js';

export interface BridgeSocketCtx {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  /** Server-side arrival times (ms, performance.now) of inbound media. */
  mediaArrivals: number[];
  streamSid(): string;
  send(obj: unknown): void;
  sendMedia(bytes: Uint8Array, chunk?: number): void;
}

export interface LoopbackBridgeOptions {
  authToken?: string;
  /** Base URL the server validates signatures against (default: its own http://127.0.0.1:port). */
  publicUrl?: string;
  /** The Stream url to put in the TwiML (default ws://127.0.0.1:port/media). */
  streamUrl?: (ownBase: string) => string;
  parameters?: Array<[string, string]>;
  /** Called for every parsed inbound message. */
  onMessage?: (msg: Record<string, unknown>, ctx: BridgeSocketCtx) => void;
}

export interface LoopbackBridge {
  url: string;
  webhooks: Array<{ url: string; form: Record<string, string>; signature?: string }>;
  upgrades: Array<{ url: string; signature?: string }>;
  sockets: BridgeSocketCtx[];
  closed: Promise<void>[];
  close(): Promise<void>;
}

const xmlAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function tone(ms: number, hz = 440, amp = 8000, rate = 8000): Uint8Array {
  const n = Math.round((ms * rate) / 1000);
  const s = new Int16Array(n);
  for (let i = 0; i < n; i++) s[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate));
  return mulawEncode(s);
}

export async function startLoopbackBridge(o: LoopbackBridgeOptions = {}): Promise<LoopbackBridge> {
  const wss = new WebSocketServer({ noServer: true });
  const webhooks: LoopbackBridge['webhooks'] = [];
  const upgrades: LoopbackBridge['upgrades'] = [];
  const sockets: BridgeSocketCtx[] = [];
  const closed: Promise<void>[] = [];
  let base = '';
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(body));
      const signature = req.headers['x-twilio-signature'] as string | undefined;
      webhooks.push({ url: req.url ?? '', form, ...(signature ? { signature } : {}) });
      if (o.authToken && !twilio.validateRequest(o.authToken, signature ?? '', (o.publicUrl ?? base) + req.url, form)) {
        res.writeHead(403).end('bad signature');
        return;
      }
      const params = (o.parameters ?? []).map(([k, v]) => `<Parameter name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`).join('');
      const stream = o.streamUrl ? o.streamUrl(base) : `${base.replace(/^http/, 'ws')}/media`;
      res.writeHead(200, { 'content-type': 'text/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="${xmlAttr(stream)}">${params}</Stream></Connect></Response>`);
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const signature = req.headers['x-twilio-signature'] as string | undefined;
    const publicWs = (o.publicUrl ?? base).replace(/^http/, 'ws') + (req.url ?? '');
    upgrades.push({ url: req.url ?? '', ...(signature ? { signature } : {}) });
    if (o.authToken && !twilio.validateRequest(o.authToken, signature ?? '', publicWs, {})) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let sid = '';
      const ctx: BridgeSocketCtx = {
        ws,
        messages: [],
        mediaArrivals: [],
        streamSid: () => sid,
        send: (obj) => ws.send(JSON.stringify(obj)),
        sendMedia: (bytes) => ws.send(JSON.stringify({ event: 'media', streamSid: sid, media: { payload: Buffer.from(bytes).toString('base64') } })),
      };
      sockets.push(ctx);
      closed.push(new Promise((r) => ws.on('close', () => r())));
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as Record<string, unknown>;
        ctx.messages.push(msg);
        if (msg['event'] === 'start') sid = String(msg['streamSid']);
        if (msg['event'] === 'media') ctx.mediaArrivals.push(performance.now());
        o.onMessage?.(msg, ctx);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    webhooks,
    upgrades,
    sockets,
    closed,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
