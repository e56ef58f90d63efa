/**
 * A WebSocket client speaking Twilio's Media Streams protocol, as Twilio documents it
 * ("WebSocket Messages"): connected, start (with customParameters), 20 ms
 * mu-law media frames, dtmf, stop; it records what the server sends and how the socket closed.
 * Also signs the upgrade as Twilio does. Imports nothing from src/.
 *
 *   const c = await connectTwilio('ws://127.0.0.1:port/media', { signWith: token, signedUrl });
 *   c.start({ mode: 'hotline' }); c.media(new Uint8Array(160).fill(0xff)); c.stop();
 *   const { code } = await c.closed;
 */
import { createHmac, randomBytes } from 'node:crypto';
import WebSocket from 'ws';

/** X-Twilio-Signature: base64 HMAC-SHA1 over the URL, then each POST parameter (sorted by name) as name+value. */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

export interface TwilioClient {
  ws: WebSocket;
  streamSid: string;
  callSid: string;
  /** Every JSON message the server sent. */
  received: Array<Record<string, unknown>>;
  /** Resolves when the socket has closed, with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  start(customParameters?: Record<string, string>): void;
  media(payload: Uint8Array): void;
  dtmf(digit: string): void;
  /** Echoes a mark the server sent, as Twilio does once the audio queued before it has played. */
  mark(name: string): void;
  stop(): void;
  /** Resolves once the server has sent a message matching `pred`. */
  waitFor(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/** Opens the socket; rejects with the HTTP status when the upgrade is refused (`unexpected-response`). */
export async function connectTwilio(
  url: string,
  o: {
    signWith?: string;
    signedUrl?: string;
    headers?: Record<string, string>;
    /** The call's SIDs (default: random ones), as they appear in `start` and `stop`. */
    callSid?: string;
    accountSid?: string;
    streamSid?: string;
  } = {},
): Promise<TwilioClient> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.signWith) headers['x-twilio-signature'] = twilioSignature(o.signWith, o.signedUrl ?? url);
  const ws = new WebSocket(url, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
    ws.once('error', reject);
  });
  const streamSid = o.streamSid ?? 'MZ' + randomBytes(16).toString('hex');
  const callSid = o.callSid ?? 'CA' + randomBytes(16).toString('hex');
  const accountSid = o.accountSid ?? 'AC' + randomBytes(16).toString('hex');
  const received: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    try {
      if (!isBinary) received.push(JSON.parse(String(data)) as Record<string, unknown>);
    } catch {
      /* not JSON: left to the caller's own listener to report */
    }
    for (const w of [...waiters]) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  let seq = 1;
  let chunk = 0;
  const send = (m: Record<string, unknown>) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ ...m, sequenceNumber: String(seq++) }));
  };
  ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
  return {
    ws,
    streamSid,
    callSid,
    received,
    closed,
    start: (customParameters = {}) =>
      send({
        event: 'start',
        streamSid,
        start: { accountSid, streamSid, callSid, tracks: ['inbound'], customParameters, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
      }),
    media: (payload) => {
      chunk++;
      send({ event: 'media', streamSid, media: { track: 'inbound', chunk: String(chunk), timestamp: String((chunk - 1) * 20), payload: Buffer.from(payload).toString('base64') } });
    },
    dtmf: (digit) => send({ event: 'dtmf', streamSid, dtmf: { track: 'inbound_track', digit } }),
    mark: (name) => send({ event: 'mark', streamSid, mark: { name } }),
    stop: () => send({ event: 'stop', streamSid, stop: { accountSid, callSid } }),
    waitFor: (pred) =>
      new Promise((resolve) => {
        const check = () => {
          const m = received.find(pred);
          if (!m) return;
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        check();
      }),
  };
}
