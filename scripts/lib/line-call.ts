/**
 * One contact-line call driven as Twilio would drive it, for the benchmarks: the customer calls
 * the line (its webhook and stream), the bridge dials the agent through the fake Twilio REST
 * API, the agent answers (a line with `screen: false`: the agent's stream opens at once) and
 * speaks `agentAudio` in real time, while the customer says each bit of `customer` at its time
 * *on the agent's clock* (ms after the agent's first frame), whatever the set-up took; a bit
 * with `minBacklogMs` waits from then until the agent's speech queued for the customer
 * (`backlog()`) is at least that long (at most `maxWaitMs`, then as soon as the backlog is near
 * its recent peak), so it starts over a long backlog.
 */
import { performance } from 'node:perf_hooks';
import { simulateCall, toFrames, type RawStream, type SimulatedCallOptions, type SimulatedCallResult } from '../../tools/sim/index.js';
import type { FakeCall, FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';

export interface LineCallOptions {
  bridgeUrl: string;
  twilio: FakeTwilioRest;
  line: string;
  agentNumber: string;
  agentAudio: Uint8Array;
  /** What the customer says, and when (ms on the agent's clock; with minBacklogMs, once the backlog is that long). */
  customer: Array<{ atMs: number; audio: Uint8Array; minBacklogMs?: number; maxWaitMs?: number }>;
  /**
   * The agent's speech queued for the customer now, ms, told the media bytes the customer has
   * received so far; `nearPeak`: it is near the longest it was lately.
   */
  backlog?: (customerMediaBytes: number) => { ms: number; nearPeak: boolean };
  /** The agent stays on this long after speaking (the customer hears the rest meanwhile). */
  agentTailMs: number;
  /** Resolves once the bridge has joined the agent to the customer (e.g. its log line). */
  paired: () => Promise<void>;
}

export interface LineCallResult {
  customer: SimulatedCallResult;
  agent: SimulatedCallResult;
  /** The agent's first frame on the customer's timeline (ms): where the agent's speech starts in `customer.heard`. */
  agentOffsetMs: number;
  /** The agent's first frame, epoch ms (the log's clock). */
  agentT0Epoch: number;
  /** When each customer bit started (ms on the agent's clock; undefined: never) and the backlog then (ms, when known). */
  customerStarts: Array<{ atMs: number; backlogMs: number | undefined } | undefined>;
}

async function waitFor<T>(what: string, get: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function lineCall(o: LineCallOptions): Promise<LineCallResult> {
  // The customer's stream sends silence; the bits replace its frames as they come due (frames
  // chosen when sent, so a bit may wait for a converted answer's arrival).
  const customerAudio = new Uint8Array(o.agentAudio.length + (o.agentTailMs + 10_000) * 8).fill(0xff);
  const bits = o.customer.map((b) => ({ ...b, frames: toFrames(b.audio), started: undefined as { atMs: number; backlogMs: number | undefined } | undefined, next: 0 }));
  let customerMediaBytes = 0;
  let room: string | undefined;
  let customerT0 = 0;
  let agentT0 = 0;
  let agentStarted!: () => void;
  const started = new Promise<void>((r) => (agentStarted = r));
  const common: Partial<SimulatedCallOptions> = { url: o.bridgeUrl, authToken: o.twilio.authToken, realtime: true };
  const beforeFrame = (index: number, _frame: Uint8Array, raw: RawStream): boolean => {
    if (agentT0 === 0) return true;
    const now = performance.now();
    const agentMs = now - agentT0;
    for (const b of bits) {
      if (b.started === undefined) {
        if (agentMs < b.atMs) continue;
        const backlog = o.backlog?.(customerMediaBytes);
        if (b.minBacklogMs !== undefined && backlog) {
          const late = agentMs > b.atMs + (b.maxWaitMs ?? 6000);
          if (backlog.ms < b.minBacklogMs && !(late && backlog.nearPeak)) continue;
        }
        b.started = { atMs: agentMs, backlogMs: backlog?.ms };
      }
      if (b.next >= b.frames.length) continue;
      const payload = Buffer.from(b.frames[b.next++]!).toString('base64');
      raw.sendEvent('media', { media: { track: 'inbound', chunk: String(index + 1), timestamp: String(index * 20), payload } });
      return false;
    }
    return true;
  };
  const customer = simulateCall({
    ...common,
    url: o.bridgeUrl,
    webhookPath: '/twiml/line',
    audio: customerAudio,
    tailMs: 0,
    form: { To: o.line },
    onProgress: (e) => {
      if (e.type === 'webhook') room = e.parameters.room;
      if (e.type === 'media') customerMediaBytes += e.bytes;
    },
    hooks: {
      afterStart: async () => {
        customerT0 = performance.now();
        await started;
        await o.paired();
      },
      beforeFrame,
    },
  });
  const r = await waitFor('the room', () => room);
  const dial: FakeCall = await waitFor('the agent dial', () => o.twilio.calls.find((c) => c.to === o.agentNumber && new URL(c.url!).searchParams.get('room') === r));
  const u = new URL(dial.url!);
  const agent = simulateCall({
    ...common,
    url: o.bridgeUrl,
    webhookPath: u.pathname,
    query: Object.fromEntries(u.searchParams),
    form: { CallSid: dial.sid, AccountSid: o.twilio.accountSid, To: dial.to, From: dial.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
    audio: o.agentAudio,
    tailMs: o.agentTailMs,
    hooks: {
      afterStart: () => {
        agentT0 = performance.now();
        agentStarted();
      },
    },
  });
  const [a, c] = await Promise.all([agent, customer]);
  return {
    customer: c,
    agent: a,
    agentOffsetMs: Math.round((agentT0 - customerT0) / 20) * 20,
    agentT0Epoch: performance.timeOrigin + agentT0,
    customerStarts: bits.map((b) => b.started && { atMs: Math.round(b.started.atMs), backlogMs: b.started.backlogMs === undefined ? undefined : Math.round(b.started.backlogMs) }),
  };
}
