/**
 * Twilio Media Streams protocol: the one place that knows Twilio's JSON and base64.
 * Inbound messages are validated into typed events; outbound ones are serialized here.
 * Message shapes as Twilio documents them (Media Streams, "WebSocket Messages").
 */
import { z } from 'zod';

const numeric = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);
const sid = (prefix: string) => z.string().regex(new RegExp(`^${prefix}[0-9a-zA-Z]{1,64}$`), `expected a ${prefix}... id`);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** Stream <Parameter>s a start message may carry (ours send at most 5). */
export const MAX_PARAMETERS = 32;

const connected = z.object({ event: z.literal('connected'), protocol: z.string().optional(), version: z.string().optional() });

const start = z.object({
  event: z.literal('start'),
  sequenceNumber: numeric.optional(),
  streamSid: sid('MZ'),
  start: z.object({
    accountSid: z.string().optional(),
    streamSid: sid('MZ'),
    callSid: sid('CA'),
    tracks: z.array(z.string()).optional(),
    // Twilio: <Parameter> name + value under 500 characters. Copied onto a null-prototype
    // object below: a parameter named like an Object.prototype member is data, never a method.
    customParameters: z
      .record(z.string().max(499), z.string().max(499))
      .optional()
      .default({})
      .refine((p) => Object.keys(p).length <= MAX_PARAMETERS, `more than ${MAX_PARAMETERS} parameters`),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }),
  }),
});

const media = z.object({
  event: z.literal('media'),
  sequenceNumber: numeric.optional(),
  streamSid: sid('MZ'),
  media: z.object({
    track: z.string().optional(),
    chunk: numeric.optional(),
    timestamp: numeric.optional(),
    // Twilio sends 20 ms (160 bytes, 216 base64 characters); 4096 characters is 384 ms, a
    // generous bound that keeps one stream from pushing minutes of audio per message.
    payload: z.string().max(4096, 'payload longer than 4096 base64 characters').regex(BASE64, 'payload is not valid base64'),
  }),
});

const dtmf = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: numeric.optional(),
  streamSid: sid('MZ'),
  dtmf: z.object({ track: z.string().optional(), digit: z.string().regex(/^[0-9*#A-D]$/, 'expected one DTMF digit') }),
});

const mark = z.object({
  event: z.literal('mark'),
  sequenceNumber: numeric.optional(),
  streamSid: sid('MZ'),
  mark: z.object({ name: z.string().max(256) }),
});

const stop = z.object({
  event: z.literal('stop'),
  sequenceNumber: numeric.optional(),
  streamSid: sid('MZ'),
  stop: z.object({ accountSid: z.string().optional(), callSid: z.string().optional() }).optional(),
});

const inbound = z.discriminatedUnion('event', [connected, start, media, dtmf, mark, stop]);

export type StartInfo = {
  streamSid: string;
  callSid: string;
  accountSid?: string;
  customParameters: Record<string, string>;
};

export type InboundEvent =
  | { event: 'connected' }
  | { event: 'start'; start: StartInfo }
  | { event: 'media'; streamSid: string; payload: Uint8Array; timestampMs?: number; chunk?: number }
  | { event: 'dtmf'; streamSid: string; digit: string }
  | { event: 'mark'; streamSid: string; name: string }
  | { event: 'stop'; streamSid: string };

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    message: string,
    /** Stable reason for counters and tests. */
    readonly reason: 'not-json' | 'unknown-event' | 'invalid-message' | 'bad-media-format' | 'bad-payload',
  ) {
    super(message);
  }
}

export const KNOWN_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);

/** Parses one text frame. Throws ProtocolError saying exactly what is wrong. */
export function parseInbound(text: string): InboundEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError('message is not JSON', 'not-json');
  }
  const ev = (raw as { event?: unknown } | null)?.event;
  if (typeof ev !== 'string' || !KNOWN_EVENTS.has(ev)) {
    throw new ProtocolError(`unknown event ${JSON.stringify(ev)?.slice(0, 40)}`, 'unknown-event');
  }
  const r = inbound.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ProtocolError(`invalid ${ev} message: ${issue.path.join('.')}: ${issue.message}`, 'invalid-message');
  }
  const m = r.data;
  switch (m.event) {
    case 'connected':
      return { event: 'connected' };
    case 'start': {
      if (m.streamSid !== m.start.streamSid) throw new ProtocolError('invalid start message: streamSid differs from start.streamSid', 'invalid-message');
      const f = m.start.mediaFormat;
      if (f.encoding !== 'audio/x-mulaw' || f.sampleRate !== 8000 || f.channels !== 1) {
        throw new ProtocolError(
          `unsupported media format ${f.encoding} ${f.sampleRate} Hz ${f.channels} ch (expected audio/x-mulaw 8000 Hz mono)`,
          'bad-media-format',
        );
      }
      return {
        event: 'start',
        start: {
          streamSid: m.start.streamSid,
          callSid: m.start.callSid,
          accountSid: m.start.accountSid,
          customParameters: ownParameters(m.start.customParameters),
        },
      };
    }
    case 'media': {
      // An empty payload carries no audio, only a timestamp: Twilio never sends one.
      if (m.media.payload.length === 0) throw new ProtocolError('media payload is empty', 'bad-payload');
      const payload = Buffer.from(m.media.payload, 'base64');
      if (payload.length === 0) throw new ProtocolError('media payload is not valid base64', 'bad-payload');
      return {
        event: 'media',
        streamSid: m.streamSid,
        payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.length),
        timestampMs: m.media.timestamp,
        chunk: m.media.chunk,
      };
    }
    case 'dtmf':
      return { event: 'dtmf', streamSid: m.streamSid, digit: m.dtmf.digit };
    case 'mark':
      return { event: 'mark', streamSid: m.streamSid, name: m.mark.name };
    case 'stop':
      return { event: 'stop', streamSid: m.streamSid };
  }
}

/**
 * The stream parameters as a null-prototype object: `params.mode` is the parameter or
 * undefined, never Object.prototype's toString, constructor or __proto__.
 */
function ownParameters(p: Record<string, string>): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(p)) out[k] = v;
  return out;
}

/**
 * `table[key]` when `key` is the table's own property, else undefined: for lookups keyed by a
 * value a peer chose (a stream's `mode` parameter naming its route), where `table[key]` would
 * find Object.prototype members such as toString or constructor.
 */
export function ownEntry<T>(table: Readonly<Record<string, T>> | undefined, key: string | undefined): T | undefined {
  return table !== undefined && key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined;
}

export function serializeMedia(streamSid: string, mulaw: Uint8Array): string {
  return JSON.stringify({
    event: 'media',
    streamSid,
    media: { payload: Buffer.from(mulaw.buffer, mulaw.byteOffset, mulaw.byteLength).toString('base64') },
  });
}

export function serializeMark(streamSid: string, name: string): string {
  return JSON.stringify({ event: 'mark', streamSid, mark: { name } });
}

export function serializeClear(streamSid: string): string {
  return JSON.stringify({ event: 'clear', streamSid });
}
