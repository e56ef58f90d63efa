/**
 * CallManager over a real bridge on loopback: streams routed by their `mode` parameter (a test
 * call type registered as a route, the way two-party lines plug in), one call's error ending
 * only that call, MAX_CALLS admission and draining. The hotline call type has its own tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { CallLeg, CallRoute } from '../../../src/session/manager.js';
import { connectTwilio, type TwilioClient } from '../../../tools/fakes/twilio-media-client.js';
import { startBridge, type Bridge } from '../../helpers/harness.js';

const FRAME = new Uint8Array(160).fill(0xff);

interface Seen {
  media: number;
  dtmf: string[];
  closed: boolean;
}

/** A call type that records what the manager hands it; `failOnMedia` throws from its media handler. */
function recordingRoute(calls: Seen[], o: { failOnMedia?: boolean; refuse?: boolean } = {}): CallRoute {
  return () => {
    if (o.refuse) return undefined;
    const seen: Seen = { media: 0, dtmf: [], closed: false };
    calls.push(seen);
    const call: CallLeg = {
      onMedia: () => {
        seen.media++;
        if (o.failOnMedia) throw new Error('injected bug in one call');
      },
      onDtmf: (d) => void seen.dtmf.push(d),
      close: () => void (seen.closed = true),
    };
    return call;
  };
}

let bridge: Bridge | undefined;
const clients: TwilioClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await bridge?.close();
  bridge = undefined;
});

async function start(routes: Record<string, CallRoute>, env: Record<string, string> = {}): Promise<Bridge> {
  bridge = await startBridge({ CONVERTER: 'local', ...env }, { extend: () => ({ routes }) });
  return bridge;
}
async function open(b: Bridge): Promise<TwilioClient> {
  const c = await connectTwilio(`${b.url.replace(/^http/, 'ws')}/media`);
  clients.push(c);
  return c;
}
/** Resolves when `cond` holds, re-checked on every turn of the event loop (no fixed sleeps). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

describe('CallManager', () => {
  it('hands a stream to the call type its mode parameter names, and closes the call on stop', async () => {
    const seen: Seen[] = [];
    const b = await start({ test: recordingRoute(seen) });
    const c = await open(b);
    c.start({ mode: 'test' });
    c.media(FRAME);
    c.media(FRAME);
    c.dtmf('5');
    await until(() => seen[0]?.dtmf.length === 1);
    expect(seen[0]).toMatchObject({ media: 2, dtmf: ['5'], closed: false });
    expect(b.calls.activeCalls).toBe(1);
    c.stop();
    await until(() => b.calls.activeCalls === 0);
    expect(seen[0]!.closed).toBe(true);
  });

  it('closes a stream its route refuses, and one with an unknown mode (1008)', async () => {
    const b = await start({ refused: recordingRoute([], { refuse: true }) });
    const r = await open(b);
    r.start({ mode: 'refused' });
    expect(await r.closed).toEqual({ code: 1008, reason: 'stream refused' });
    const u = await open(b);
    u.start({ mode: 'nonsense' });
    expect(await u.closed).toEqual({ code: 1008, reason: 'unknown mode' });
    await until(() => b.calls.activeCalls === 0);
  });

  it('ends only the call whose handler threw (1011); the other call keeps its audio', async () => {
    const good: Seen[] = [];
    const bad: Seen[] = [];
    const b = await start({ good: recordingRoute(good), bad: recordingRoute(bad, { failOnMedia: true }) });
    const g = await open(b);
    const x = await open(b);
    g.start({ mode: 'good' });
    x.start({ mode: 'bad' });
    x.media(FRAME);
    expect(await x.closed).toMatchObject({ code: 1011 });
    expect(bad[0]!.closed).toBe(true);
    g.media(FRAME);
    g.media(FRAME);
    await until(() => good[0]?.media === 2);
    expect(good[0]!.closed).toBe(false);
    await until(() => b.calls.activeCalls === 1);
    expect(b.logs.some((l) => l.stage === 'media' && /ending it/.test(String(l.msg)))).toBe(true);
  });

  it('refuses the upgrade past MAX_CALLS (503) and admits again once a call ends', async () => {
    const b = await start({ test: recordingRoute([]) }, { MAX_CALLS: '1' });
    const first = await open(b);
    first.start({ mode: 'test' });
    await expect(open(b)).rejects.toMatchObject({ status: 503 });
    first.stop();
    await until(() => b.calls.activeCalls === 0);
    const again = await open(b);
    again.start({ mode: 'test' });
    await until(() => b.calls.activeCalls === 1);
  });

  it('drains: resolves when the last call ends; a new hotline stream is closed 1013 meanwhile', async () => {
    const seen: Seen[] = [];
    const b = await start({ test: recordingRoute(seen) });
    const c = await open(b);
    c.start({ mode: 'test' });
    await until(() => seen.length === 1);
    const drained = b.calls.drain(30_000);
    expect(b.calls.isDraining).toBe(true);
    // Streams are still admitted (rooms join calls in progress) but a new hotline call is not.
    const late = await open(b);
    late.start({});
    expect(await late.closed).toEqual({ code: 1013, reason: 'server draining' });
    c.stop();
    expect(await drained).toEqual({ remaining: 0 });
  });

  it('drains: after the timeout, closes the calls still running (1001) and reports them', async () => {
    const b = await start({ test: recordingRoute([]) });
    const c = await open(b);
    c.start({ mode: 'test' });
    await until(() => b.calls.activeCalls === 1);
    expect(await b.calls.drain(50)).toEqual({ remaining: 1 });
    expect(await c.closed).toEqual({ code: 1001, reason: 'server shutting down' });
  });

  it('without routes, refuses the upgrade itself while draining (503)', async () => {
    bridge = await startBridge({ CONVERTER: 'local' });
    await bridge.calls.drain(0);
    await expect(connectTwilio(`${bridge.url.replace(/^http/, 'ws')}/media`)).rejects.toMatchObject({ status: 503 });
  });
});
