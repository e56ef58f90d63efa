/**
 * A minimal Twilio application for testing the fake phones (not the product): serves TwiML by
 * path, takes status callbacks, accepts media streams; records every request and message and
 * checks each signature with the twilio package.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { WebSocketServer, type WebSocket } from 'ws';

export interface AppRequest {
  at: number;
  method: string;
  path: string;
  /** Body parameters (POST) or query parameters (GET). */
  params: Record<string, string>;
  signatureOk: boolean;
}

export interface AppStream {
  ws: WebSocket;
  signatureOk: boolean;
  /** Every message the phone sent, with arrival time (the app's clock). */
  messages: Array<{ at: number; m: Record<string, unknown> }>;
  started: Promise<Record<string, unknown>>;
  closed: Promise<void>;
  streamSid(): string;
  send(m: Record<string, unknown>): void;
  media(bytes: Uint8Array): void;
  mark(name: string): void;
  clear(): void;
  /** Resolves with the first message matching `pred`. */
  when(pred: (m: Record<string, unknown>) => boolean): Promise<{ at: number; m: Record<string, unknown> }>;
}

export interface TwimlApp {
  url: string;
  wsUrl: string;
  requests: AppRequest[];
  streams: AppStream[];
  /** TwiML answered for a path (a function gets the request parameters). */
  route(path: string, twiml: string | ((params: Record<string, string>) => string)): void;
  /** Runs for each new media stream once `start` arrived. */
  onStream: (s: AppStream) => void;
  nextStream(): Promise<AppStream>;
  close(): Promise<void>;
}

export async function startTwimlApp(authToken: string, clock: () => number): Promise<TwimlApp> {
  const routes = new Map<string, string | ((p: Record<string, string>) => string)>();
  const requests: AppRequest[] = [];
  const streams: AppStream[] = [];
  const streamWaiters: Array<(s: AppStream) => void> = [];
  let base = '';
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', base);
      const post = req.method === 'POST';
      const params = post ? Object.fromEntries(new URLSearchParams(raw)) : Object.fromEntries(u.searchParams);
      const signature = String(req.headers['x-twilio-signature'] ?? '');
      const signatureOk = twilio.validateRequest(authToken, signature, base + req.url, post ? params : {});
      requests.push({ at: clock(), method: req.method ?? '', path: u.pathname, params, signatureOk });
      const route = routes.get(u.pathname);
      if (route === undefined) {
        res.writeHead(u.pathname.startsWith('/status') ? 204 : 404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/xml' }).end(typeof route === 'string' ? route : route(params));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const signatureOk = twilio.validateRequest(authToken, String(req.headers['x-twilio-signature'] ?? ''), `${base.replace(/^http/, 'ws')}${req.url}`, {});
    wss.handleUpgrade(req, socket, head, (ws) => {
      const messages: AppStream['messages'] = [];
      const waiters = new Set<() => void>();
      let sid = '';
      const when: AppStream['when'] = (pred) =>
        new Promise((resolve) => {
          const check = () => {
            const hit = messages.find((x) => pred(x.m));
            if (!hit) return;
            waiters.delete(check);
            resolve(hit);
          };
          waiters.add(check);
          check();
        });
      const s: AppStream = {
        ws,
        signatureOk,
        messages,
        started: when((m) => m['event'] === 'start').then((x) => x.m),
        closed: new Promise((r) => ws.once('close', () => r())),
        streamSid: () => sid,
        send: (m) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ ...m, streamSid: sid })),
        media: (bytes) => s.send({ event: 'media', media: { payload: Buffer.from(bytes).toString('base64') } }),
        mark: (name) => s.send({ event: 'mark', mark: { name } }),
        clear: () => s.send({ event: 'clear' }),
        when,
      };
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as Record<string, unknown>;
        messages.push({ at: clock(), m });
        if (m['event'] === 'start') {
          sid = String(m['streamSid']);
          streams.push(s);
          app.onStream(s);
          streamWaiters.shift()?.(s);
        }
        for (const w of [...waiters]) w();
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const app: TwimlApp = {
    url: base,
    wsUrl: base.replace(/^http/, 'ws'),
    requests,
    streams,
    route: (path, twiml) => routes.set(path, twiml),
    onStream: () => {},
    nextStream: () => new Promise((r) => streamWaiters.push(r)),
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return app;
}
