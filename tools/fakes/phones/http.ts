/**
 * Requests Twilio makes to the application: TwiML fetches and status callbacks, signed with the
 * account's auth token (X-Twilio-Signature over the URL, then the POST parameters sorted by name).
 * A GET carries the parameters in the query string, and the signature covers that URL alone.
 */
import { twilioSignature } from '../twilio-media-client.js';
import type { WebhookRecord } from './types.js';

export async function twilioRequest(o: {
  authToken: string;
  url: string;
  method?: string;
  params: Record<string, string>;
  at: () => number;
  signal?: AbortSignal;
}): Promise<WebhookRecord> {
  const method = (o.method ?? 'POST').toUpperCase() === 'GET' ? 'GET' : 'POST';
  let url = o.url;
  if (method === 'GET') {
    const u = new URL(o.url);
    for (const [k, v] of Object.entries(o.params)) u.searchParams.append(k, v);
    url = u.toString();
  }
  const signature = twilioSignature(o.authToken, url, method === 'POST' ? o.params : {});
  const rec: WebhookRecord = { at: o.at(), method, url: o.url, params: o.params, signature, status: 0, body: '' };
  try {
    const res = await fetch(url, {
      method,
      headers: {
        'x-twilio-signature': signature,
        'user-agent': 'TwilioProxy/1.1',
        ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' } : {}),
      },
      ...(method === 'POST' ? { body: new URLSearchParams(o.params).toString() } : {}),
      signal: o.signal ?? null,
    });
    rec.status = res.status;
    rec.body = await res.text();
  } catch (err) {
    rec.body = String((err as { cause?: unknown }).cause ?? err);
  }
  return rec;
}

/** Duration of a <Play> file: measured when it is a PCM/mu-law WAV, else undefined. */
export async function wavDurationMs(url: string, signal?: AbortSignal): Promise<number | undefined> {
  try {
    const res = await fetch(url, { signal: signal ?? null });
    if (!res.ok) return undefined;
    const b = Buffer.from(await res.arrayBuffer());
    if (b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') return undefined;
    let byteRate = 0;
    for (let off = 12; off + 8 <= b.length; ) {
      const id = b.toString('latin1', off, off + 4);
      const size = b.readUInt32LE(off + 4);
      if (id === 'fmt ') byteRate = b.readUInt32LE(off + 16);
      if (id === 'data' && byteRate > 0) return (Math.min(size, b.length - off - 8) / byteRate) * 1000;
      off += 8 + size + (size % 2);
    }
  } catch {
    /* not measurable */
  }
  return undefined;
}
