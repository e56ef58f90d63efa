/**
 * A phone's side of a bidirectional <Connect><Stream>, as Twilio runs it: opens the socket
 * (signed upgrade), sends connected and start (with the <Parameter>s), then a 20 ms mu-law frame
 * every 20 ms in real time (the phone's audio, then silence) and its DTMF; plays what the
 * server sends through Twilio's playback buffer (marks echoed, clear honoured). When the call
 * ends or is redirected Twilio sends stop and closes the socket; the server may close it first.
 */
import { randomBytes } from 'node:crypto';
import { connectTwilio } from '../twilio-media-client.js';
import { Ear } from './ear.js';
import type { PhoneStreamRecord } from './types.js';

const FRAME_MS = 20;
const FRAME_BYTES = 160;
const SILENCE = 0xff;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export interface StreamPlan {
  url: string;
  connectUrl: string;
  name?: string;
  parameters: Record<string, string>;
  authToken: string;
  callSid: string;
  accountSid: string;
  /** 8 kHz mu-law sent from the start, then silence. */
  audio?: Uint8Array;
  dtmf?: Array<{ digit: string; atMs: number }>;
  /** The fake's clock. */
  now: () => number;
  onDtmf?: (digit: string) => void;
}

export interface PhoneStream {
  record: PhoneStreamRecord;
  /** Resolves once the socket closed, with who closed it. */
  ended: Promise<'bridge' | 'twilio'>;
  /** Twilio ends the stream (call ended or redirected): stop, then close. */
  stop(): Promise<void>;
}

/** Opens the stream; throws when the handshake fails (Twilio's error 31920). */
export async function openStream(p: StreamPlan): Promise<PhoneStream> {
  const signedUrl = p.url.split('?')[0]!;
  const streamSid = 'MZ' + randomBytes(16).toString('hex');
  const client = await connectTwilio(p.connectUrl, {
    signWith: p.authToken,
    signedUrl,
    callSid: p.callSid,
    accountSid: p.accountSid,
    streamSid,
    headers: { 'user-agent': 'Twilio.TmeWs/1.0' },
  });
  const openedAt = p.now();
  const elapsed = () => p.now() - openedAt;
  const record: PhoneStreamRecord = {
    url: p.url,
    connectUrl: p.connectUrl,
    parameters: p.parameters,
    streamSid,
    openedAt,
    received: [],
    heard: new Uint8Array(0),
    marks: [],
    clears: [],
    framesSent: 0,
    dtmfSent: [],
    protocolErrors: [],
  };
  if (p.name !== undefined) record.name = p.name;
  let stopping = false;
  let closed = false;
  const ear = new Ear((name, cleared) => {
    record.marks.push({ name, at: p.now(), cleared });
    if (!closed) client.mark(name);
  });
  const ended = client.closed.then(({ code }) => {
    closed = true;
    record.closedAt = p.now();
    record.closedBy = stopping ? 'twilio' : 'bridge';
    record.closeCode = code;
    record.heard = ear.heard(record.closedAt - openedAt);
    return record.closedBy;
  });

  client.ws.on('message', (data, isBinary) => {
    const err = (m: string) => record.protocolErrors.push(m);
    if (isBinary) return err('binary frame: Twilio accepts JSON text only');
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(String(data)) as Record<string, unknown>;
    } catch {
      return err(`invalid JSON: ${String(data).slice(0, 80)}`);
    }
    if (m['streamSid'] !== streamSid) return err(`${String(m['event'])}: wrong or missing streamSid`);
    const at = elapsed();
    if (m['event'] === 'media') {
      const payload = (m['media'] as { payload?: unknown } | undefined)?.payload;
      if (typeof payload !== 'string' || !payload || payload.length % 4 !== 0 || !BASE64.test(payload)) return err('media: bad payload');
      const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
      record.received.push({ at: p.now(), payload: bytes });
      ear.media(bytes, at);
    } else if (m['event'] === 'mark') {
      const name = (m['mark'] as { name?: unknown } | undefined)?.name;
      if (typeof name !== 'string') return err('mark: missing mark.name');
      ear.mark(name, at);
    } else if (m['event'] === 'clear') {
      record.clears.push(p.now());
      ear.clear(at);
    } else err(`unknown event ${JSON.stringify(m['event'])}`);
  });

  client.start(p.parameters);
  void (async () => {
    const audio = p.audio ?? new Uint8Array(0);
    const dtmf = [...(p.dtmf ?? [])].sort((a, b) => a.atMs - b.atMs);
    const silence = new Uint8Array(FRAME_BYTES).fill(SILENCE);
    for (let i = 0; !closed && !stopping; i++) {
      const due = i * FRAME_MS;
      while (elapsed() < due && !closed && !stopping) await new Promise((r) => setTimeout(r, Math.max(1, due - elapsed())));
      if (closed || stopping) break;
      ear.advanceTo(elapsed());
      while (dtmf.length && dtmf[0]!.atMs <= due) {
        const d = dtmf.shift()!;
        client.dtmf(d.digit);
        record.dtmfSent.push({ digit: d.digit, at: p.now() });
        p.onDtmf?.(d.digit);
      }
      const off = i * FRAME_BYTES;
      let frame = silence;
      if (off < audio.length) {
        frame = new Uint8Array(FRAME_BYTES).fill(SILENCE);
        frame.set(audio.subarray(off, off + FRAME_BYTES));
      }
      client.media(frame);
      record.framesSent++;
    }
  })();

  return {
    record,
    ended,
    stop: async () => {
      if (closed || stopping) return void (await ended);
      stopping = true;
      client.stop();
      client.ws.close(1000);
      const timer = setTimeout(() => client.ws.terminate(), 1000);
      await ended;
      clearTimeout(timer);
    },
  };
}
