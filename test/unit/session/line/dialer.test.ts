/**
 * One round of dialling (the Dialer) against an in-memory call control: each dial's REST answer
 * is a deferred promise the test resolves (or rejects) when it wants, status callbacks are fed
 * by hand, and Twilio's ring timeout and the accept time run on vitest's fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallControl, DialRequest } from '../../../../src/session/line/call-control.js';
import { Dialer, RING_GRACE_S, type DialOutcome } from '../../../../src/session/line/dialer.js';
import { createLogger, type Logger } from '../../../../src/observability/logger.js';

const AGENTS = ['+15550100001', '+15550100002', '+15550100003'] as const;
const URLS = { url: 'https://bridge.test/twiml/agent', statusCallback: 'https://bridge.test/twilio/status' };
const RING_S = 20;
const ACCEPT_S = 10;
/** When the Dialer gives up on a dial whose no-answer callback never came. */
const RING_LIMIT_MS = (RING_S + RING_GRACE_S) * 1000;

interface PendingDial {
  req: DialRequest;
  answer(sid: string): void;
  refuse(err: Error & { status?: number; code?: number }): void;
}

/** Records every REST call; dial() answers only when the test says so. */
class FakeCallControl implements CallControl {
  readonly dials: PendingDial[] = [];
  readonly cancelled: string[] = [];
  readonly hungUp: string[] = [];
  readonly redirected: { callSid: string; twiml: string }[] = [];

  dial(req: DialRequest): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.dials.push({ req, answer: resolve, refuse: reject });
    });
  }
  cancel(callSid: string): Promise<boolean> {
    this.cancelled.push(callSid);
    return Promise.resolve(true);
  }
  hangUp(callSid: string): Promise<boolean> {
    this.hungUp.push(callSid);
    return Promise.resolve(true);
  }
  redirect(callSid: string, twiml: string): Promise<boolean> {
    this.redirected.push({ callSid, twiml });
    return Promise.resolve(true);
  }
  /** The numbers dialled so far, in order. */
  get dialledNumbers(): string[] {
    return this.dials.map((d) => d.req.to);
  }
}

/** Lets the promise callbacks (REST answers) run. No timers involved. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Harness {
  dialer: Dialer;
  control: FakeCallControl;
  failed: Array<[string, DialOutcome]>;
  answered: string[];
  winnerHungUp: number;
}

function setup(log: Logger = createLogger('silent')): Harness {
  const control = new FakeCallControl();
  const h: Harness = { dialer: undefined as unknown as Dialer, control, failed: [], answered: [], winnerHungUp: 0 };
  h.dialer = new Dialer({
    control,
    callerId: '+15550199999',
    ringTimeoutS: RING_S,
    acceptTimeoutS: ACCEPT_S,
    agentUrls: URLS,
    pace: () => Promise.resolve(),
    log,
    onAnswered: (agent) => void h.answered.push(agent),
    onFailed: (agent, outcome) => void h.failed.push([agent, outcome]),
    onWinnerHungUp: () => void h.winnerHungUp++,
  });
  return h;
}

const targets = (n: number) => AGENTS.slice(0, n).map((a, i) => ({ agentId: `agent-${i}`, endpoint: a }));

/** Answers dial `i` with CallSid CA<i+1>, and lets the Dialer see it. */
async function answer(h: Harness, i: number): Promise<string> {
  const sid = `CA${i + 1}`;
  h.control.dials[i]!.answer(sid);
  await settle();
  return sid;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Dialer: one round', () => {
  it('rings every claimed agent at once, with the line settings and the agent URLs; start is idempotent', async () => {
    const h = setup();
    h.dialer.start(targets(2));
    await settle();
    expect(h.dialer.state).toBe('ringing');
    expect(h.control.dials.map((d) => d.req)).toEqual([
      { to: AGENTS[0], from: '+15550199999', url: URLS.url, statusCallback: URLS.statusCallback, timeoutS: RING_S },
      { to: AGENTS[1], from: '+15550199999', url: URLS.url, statusCallback: URLS.statusCallback, timeoutS: RING_S },
    ]);
    h.dialer.start(targets(3));
    await settle();
    expect(h.control.dials).toHaveLength(2);
  });

  it('reports each agent that does not join once, with why; the round is exhausted when all failed', async () => {
    const h = setup();
    h.dialer.start(targets(3));
    await settle();
    await answer(h, 0);
    await answer(h, 1);
    h.dialer.onStatus('CA1', 'busy');
    h.dialer.onStatus('CA2', 'no-answer');
    expect(h.dialer.exhausted).toBe(false);
    h.control.dials[2]!.refuse(Object.assign(new Error('not a valid phone number +15550100003'), { status: 400, code: 21211 }));
    await settle();
    expect(h.failed).toEqual([
      ['agent-0', 'busy'],
      ['agent-1', 'no-answer'],
      ['agent-2', 'rest-error'],
    ]);
    expect(h.dialer.exhausted).toBe(true);
    // Calls that ended on their own are not cancelled; repeated callbacks change nothing.
    expect(h.control.cancelled).toEqual([]);
    h.dialer.onStatus('CA1', 'busy');
    h.dialer.onStatus('CA2', 'completed');
    expect(h.failed).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a ring that never ends is given up after the ring timeout and a grace, and cancelled', async () => {
    const h = setup();
    h.dialer.start(targets(1));
    await settle();
    await answer(h, 0);
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS - 1);
    expect(h.failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.failed).toEqual([['agent-0', 'ring-timeout']]);
    expect(h.control.cancelled).toEqual(['CA1']);
  });

  it("Twilio's answered starts the accept time: no key in time is 'not accepted' and the call is ended", async () => {
    const h = setup();
    h.dialer.start(targets(1));
    await settle();
    await answer(h, 0);
    await vi.advanceTimersByTimeAsync(15_000);
    h.dialer.onStatus('CA1', 'in-progress'); // answered (a person, or a voicemail box)
    expect(h.answered).toEqual(['agent-0']);
    // The ring timer no longer runs: only the accept time does.
    await vi.advanceTimersByTimeAsync((ACCEPT_S + RING_GRACE_S) * 1000 - 1);
    expect(h.failed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.failed).toEqual([['agent-0', 'not-accepted']]);
    // Answered: ended (Status=completed), since Twilio ignores a cancel of a call in progress.
    expect(h.control.cancelled).toEqual([]);
    expect(h.control.hungUp).toEqual(['CA1']);
    expect(h.dialer.accept('CA1')).toBeUndefined(); // too late
  });

  it('an answered call that completes without accepting is not accepted (the box hung up)', async () => {
    const h = setup();
    h.dialer.start(targets(1));
    await settle();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'in-progress');
    h.dialer.onStatus('CA1', 'completed');
    expect(h.failed).toEqual([['agent-0', 'not-accepted']]);
  });

  it('the first to accept wins; the others are cancelled; the winner hanging up is reported', async () => {
    const h = setup();
    h.dialer.start(targets(3));
    await settle();
    await answer(h, 0);
    await answer(h, 1);
    expect(h.dialer.accept('CA2')).toBe('agent-1');
    expect(h.dialer.state).toBe('won');
    expect(h.dialer.accept('CA1')).toBeUndefined();
    expect(h.control.cancelled).toEqual(['CA1']);
    expect(h.failed).toEqual([
      ['agent-0', 'canceled'],
      ['agent-2', 'canceled'],
    ]);
    // Dial 3's REST answer arrives late: that call is cancelled at once.
    await answer(h, 2);
    expect(h.control.cancelled).toEqual(['CA1', 'CA3']);
    h.dialer.onStatus('CA2', 'completed');
    expect(h.winnerHungUp).toBe(1);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(h.failed).toHaveLength(2);
  });

  it('a status that arrives before the REST answer is kept until it does', async () => {
    const h = setup();
    h.dialer.start(targets(1));
    await settle();
    h.dialer.onStatus('CA1', 'busy');
    expect(h.failed).toEqual([]);
    await answer(h, 0);
    expect(h.failed).toEqual([['agent-0', 'busy']]);
  });

  it('stop() cancels every call still ringing (the caller left); idempotent', async () => {
    const h = setup();
    h.dialer.start(targets(2));
    await settle();
    await answer(h, 0);
    h.dialer.stop();
    h.dialer.stop();
    expect(h.control.cancelled).toEqual(['CA1']);
    expect(h.failed).toEqual([
      ['agent-0', 'canceled'],
      ['agent-1', 'canceled'],
    ]);
    await answer(h, 1);
    expect(h.control.cancelled).toEqual(['CA1', 'CA2']);
    expect(h.failed).toHaveLength(2);
  });

  it('places calls at the pace it is given', async () => {
    const control = new FakeCallControl();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let paced = 0;
    const d = new Dialer({
      control,
      callerId: '+15550199999',
      ringTimeoutS: RING_S,
      acceptTimeoutS: ACCEPT_S,
      agentUrls: URLS,
      pace: () => (paced++ === 0 ? Promise.resolve() : gate),
      log: createLogger('silent'),
      onFailed: () => {},
      onWinnerHungUp: () => {},
    });
    d.start(targets(2));
    await settle();
    expect(control.dials).toHaveLength(1);
    release();
    await settle();
    expect(control.dials).toHaveLength(2);
  });

  it("never logs an agent's full number from Twilio's error text", async () => {
    const lines: string[] = [];
    const log = createLogger('info', { write: (l: string) => void lines.push(l) } as unknown as NodeJS.WritableStream);
    const h = setup(log);
    h.dialer.start(targets(1));
    await settle();
    h.control.dials[0]!.refuse(Object.assign(new Error(`The 'To' number ${AGENTS[0]} is not a valid phone number.`), { status: 400, code: 21211 }));
    await settle();
    expect(lines.join('')).not.toContain(AGENTS[0].slice(2));
  });
});
