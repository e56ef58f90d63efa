/**
 * PUBLIC_URL, INSTANCE_URL and proxy headers: in every combination the docs allow, the URLs
 * the bridge hands Twilio and the signatures it checks agree: Twilio signs the URL it
 * requests, so each webhook and each WebSocket upgrade is sent (through a proxy that rewrites
 * or forwards the Host) to the URL the previous answer named, signed over that URL. The
 * combinations the docs rule out (no PUBLIC_URL and a proxy that hides the public host) are
 * refused (403), never let through. Signatures are computed here from the spec
 * (twilio-media-streams.md, "Request signing"), not with the product's code.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { postForm, startLineBridge, type Bridge } from '../helpers/harness.js';

const LB = 'https://line.voice.example.com';
const VM = 'https://vm-3.voice.example.com';
const LINE = '+15005550900';

/** base64 HMAC-SHA1 of the URL followed by the POST parameters sorted by name, each name then its value. */
function sign(token: string, url: string, params: Record<string, string> = {}): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', token).update(data, 'utf8').digest('base64');
}

type ProxyStyle = 'host-rewritten' | 'x-forwarded-host' | 'host-kept';

/** Headers a request for `publicUrl` carries when it reaches the bridge through the proxy. */
function proxied(style: ProxyStyle, publicUrl: string, local: string): Record<string, string> {
  const pub = new URL(publicUrl);
  const internal = new URL(local).host;
  if (style === 'host-rewritten') return { host: internal };
  if (style === 'x-forwarded-host') return { host: internal, 'x-forwarded-host': pub.host, 'x-forwarded-proto': 'https' };
  return { host: pub.host, 'x-forwarded-proto': 'https' };
}

/** Twilio posting a signed webhook to `publicUrl` (through the proxy to the bridge at `local`). */
function webhook(token: string, style: ProxyStyle, local: string, publicUrl: string, form: Record<string, string>): Promise<{ status: number; body: string }> {
  const u = new URL(publicUrl);
  return postForm(`${local}${u.pathname}${u.search}`, { 'x-twilio-signature': sign(token, publicUrl, form), ...proxied(style, publicUrl, local) }, form);
}

/** Twilio opening the Stream url the TwiML named: the status of the handshake (101 when opened). */
function upgrade(token: string, style: ProxyStyle, local: string, streamUrl: string, signingToken = token): Promise<{ status: number; ws?: WebSocket }> {
  const u = new URL(streamUrl);
  const httpsForm = streamUrl.replace(/^ws/, 'http');
  const ws = new WebSocket(`${local.replace(/^http/, 'ws')}${u.pathname}`, {
    headers: { 'x-twilio-signature': sign(signingToken, streamUrl), ...proxied(style, httpsForm, local) },
  });
  return new Promise((resolve) => {
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ status: res.statusCode ?? 0 }));
    ws.once('error', () => resolve({ status: 0 }));
  });
}

const streamOf = (twiml: string) => {
  const url = /<Stream url="([^"]+)"/.exec(twiml)?.[1]?.replace(/&amp;/g, '&');
  const parameters: Record<string, string> = {};
  for (const m of twiml.matchAll(/<Parameter name="([^"]+)" value="([^"]*)"\/>/g)) parameters[m[1]!] = m[2]!.replace(/&amp;/g, '&');
  return { url, parameters };
};

function startMessage(streamSid: string, callSid: string, customParameters: Record<string, string>) {
  return JSON.stringify({
    event: 'start',
    sequenceNumber: '1',
    streamSid,
    start: { accountSid: `AC${'0'.repeat(32)}`, streamSid, callSid, tracks: ['inbound'], customParameters, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
  });
}

async function waitFor<T>(what: string, get: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let fake: FakeTwilioRest;
beforeAll(async () => {
  fake = await startFakeTwilioRest();
});
afterAll(async () => {
  await fake.close();
});

const combos: Array<{ publicUrl?: string; instanceUrl?: string; style: ProxyStyle }> = [];
for (const publicUrl of [undefined, LB]) {
  for (const instanceUrl of [undefined, VM, LB]) {
    for (const style of ['host-rewritten', 'x-forwarded-host', 'host-kept'] as const) {
      if (instanceUrl === LB && !publicUrl) continue; // INSTANCE_URL = the balancer: only meaningful beside PUBLIC_URL
      combos.push({ ...(publicUrl && { publicUrl }), ...(instanceUrl && { instanceUrl }), style });
    }
  }
}
describe('forwarded headers from a proxy TRUST_PROXY does not name', () => {
  it('are ignored: without PUBLIC_URL a signature over the forwarded host is refused (403)', async () => {
    const b: Bridge = await startLineBridge(fake, JSON.stringify({ lines: { [LINE]: { agents: ['client:dana'] } } }), {}, 'lines.json');
    try {
      const form = { CallSid: `CA${'7'.repeat(32)}`, From: '+15005550006', To: '+15005550001' };
      expect((await webhook(fake.authToken, 'x-forwarded-host', b.url, `${LB}/twiml/inbound`, form)).status).toBe(403);
      expect((await webhook(fake.authToken, 'host-kept', b.url, `${LB}/twiml/inbound`, form)).status).toBe(403);
    } finally {
      await b.close();
    }
  });
});

const name = (c: (typeof combos)[number]) => `PUBLIC_URL=${c.publicUrl ?? 'unset'} INSTANCE_URL=${c.instanceUrl ?? 'unset'} proxy=${c.style}`;

describe('public URLs, signatures and stream URLs agree', () => {
  it.concurrent.each(combos.map((c) => [name(c), c] as const))('%s', async (_n, c) => {
    // The proxy of these tests is on loopback: its forwarded headers are believed (TRUST_PROXY).
    const env: Record<string, string> = { TRUST_PROXY: 'loopback', ...(c.publicUrl && { PUBLIC_URL: c.publicUrl }), ...(c.instanceUrl && { INSTANCE_URL: c.instanceUrl }) };
    const b: Bridge = await startLineBridge(fake, JSON.stringify({ lines: { [LINE]: { agents: ['client:dana'], dialTimeoutS: 5, screen: false } } }), env, 'lines.json');
    const open: WebSocket[] = [];
    try {
      const token = fake.authToken;
      const allowed = c.publicUrl !== undefined || c.style !== 'host-rewritten';
      const callSid = `CA${Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32)}`;

      // Hotline: the number's webhook, then the stream it names.
      const hot = await webhook(token, c.style, b.url, `${LB}/twiml/inbound`, { CallSid: callSid, From: '+15005550006', To: '+15005550001' });
      if (!allowed) {
        // The public host is hidden from the bridge and not configured: refused, never guessed.
        expect(hot.status).toBe(403);
        expect((await webhook(token, c.style, b.url, `${LB}/twiml/line`, { CallSid: callSid, To: LINE })).status).toBe(403);
        return;
      }
      expect(hot.status).toBe(200);
      const hotStream = streamOf(hot.body);
      // A stream path bound to this call (src/twilio/stream-tokens.ts).
      expect(hotStream.url).toMatch(new RegExp(`^${(c.publicUrl ?? LB).replace(/^https/, 'wss').replace(/\./g, '\\.')}/media/${callSid}\\.`));
      const h = await upgrade(token, c.style, b.url, hotStream.url!);
      expect(h.status).toBe(101);
      h.ws?.close();

      // Two-party line: the customer's webhook, the customer stream (on this instance) ...
      const instance = c.instanceUrl ?? c.publicUrl ?? LB;
      const line = await webhook(token, c.style, b.url, `${LB}/twiml/line`, { CallSid: callSid, From: '+15005550006', To: LINE });
      expect(line.status).toBe(200);
      const cust = streamOf(line.body);
      // A stream URL bound to this call: /media/<one-use token>.
      expect(cust.url!.startsWith(`${instance.replace(/^https/, 'wss')}/media/`)).toBe(true);
      const cu = await upgrade(token, c.style, b.url, cust.url!);
      expect(cu.status).toBe(101);
      open.push(cu.ws!);
      cu.ws!.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
      cu.ws!.send(startMessage(`MZ${callSid.slice(2)}`, callSid, cust.parameters));

      // ... the agent call placed with URLs naming this instance, its webhook and its stream.
      const dial = await waitFor('the agent dial', () => fake.calls.find((x) => x.url?.includes(`room=${cust.parameters.room}&`)));
      expect(dial.url!.startsWith(`${instance}/twiml/agent?`)).toBe(true);
      const agentHook = await webhook(token, c.style, b.url, dial.url!, { CallSid: dial.sid, CallStatus: 'in-progress', To: 'client:dana' });
      expect(agentHook.status).toBe(200);
      const agent = streamOf(agentHook.body);
      expect(agent.url!.startsWith(`${instance.replace(/^https/, 'wss')}/media/`)).toBe(true);
      const au = await upgrade(token, c.style, b.url, agent.url!);
      expect(au.status).toBe(101);
      open.push(au.ws!);

      // Signed with another account's token: refused, whichever URL it names.
      for (const u of [hotStream.url!, agent.url!]) expect((await upgrade(token, c.style, b.url, u, 'another-accounts-token')).status).toBe(403);
    } finally {
      for (const ws of open) ws.terminate();
      await b.close();
    }
  });
});
