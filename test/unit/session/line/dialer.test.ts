/**
 * The Dialer state machine against an in-memory call control: each dial's REST answer is a
 * deferred promise the test resolves (or rejects) when it wants, status callbacks are fed by
 * hand, and Twilio's ring timeout / the line's dial timeout run on vitest's fake clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CallControl, DialRequest } from '../../../../src/session/line/call-control.js';
import { Dialer, RING_GRACE_S, type DialPlan } from '../../../../src/session/line/dialer.js';
import { createLogger, type Logger } from '../../../../src/observability/logger.js';

const AGENTS = ['+15550100001', '+15550100002', '+15550100003'] as const;
const URLS = { url: 'https://bridge.test/twiml/agent', statusCallback: 'https://bridge.test/twilio/status' };
const RING_S = 20;
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
  noAnswer: string[];
  winnerHungUp: number;
}

function setup(plan: Partial<DialPlan> = {}, log: Logger = createLogger('silent')): Harness {
  const control = new FakeCallControl();
  const h: Harness = { dialer: undefined as unknown as Dialer, control, noAnswer: [], winnerHungUp: 0 };
  h.dialer = new Dialer({
    plan: { agents: AGENTS, ring: 'sequential', ringTimeoutS: RING_S, dialTimeoutS: 120, callerId: '+15550199999', ...plan },
    control,
    agentUrls: URLS,
    log,
    onNoAnswer: (why) => void h.noAnswer.push(why),
    onWinnerHungUp: () => void h.winnerHungUp++,
  });
  return h;
}

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

describe('Dialer: sequential ringing', () => {
  it('rings the first agent only, with the plan and the agent URLs', () => {
    const h = setup();
    h.dialer.start();
    expect(h.dialer.state).toBe('dialing');
    expect(h.control.dials).toHaveLength(1);
    expect(h.control.dials[0]!.req).toEqual({ to: AGENTS[0], from: '+15550199999', url: URLS.url, statusCallback: URLS.statusCallback, timeoutS: RING_S });
    h.dialer.start(); // idempotent: no second round of dials
    expect(h.control.dials).toHaveLength(1);
  });

  it('busy -> the next agent; no-answer -> the next; every agent failed -> onNoAnswer once', async () => {
    const h = setup();
    h.dialer.start();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'ringing');
    expect(h.control.dials).toHaveLength(1);
    h.dialer.onStatus('CA1', 'busy');
    expect(h.control.dialledNumbers).toEqual([AGENTS[0], AGENTS[1]]);

    await answer(h, 1);
    h.dialer.onStatus('CA2', 'no-answer');
    expect(h.control.dialledNumbers).toEqual([...AGENTS]);
    expect(h.noAnswer).toEqual([]);

    await answer(h, 2);
    h.dialer.onStatus('CA3', 'failed');
    expect(h.noAnswer).toEqual(['every agent failed']);
    expect(h.dialer.state).toBe('failed');
    expect(h.dialer.dialledSids).toEqual(['CA1', 'CA2', 'CA3']);
    // Calls that ended on their own are not cancelled.
    expect(h.control.cancelled).toEqual([]);

    // Repeated or late callbacks change nothing, and no timer is left to fire.
    h.dialer.onStatus('CA3', 'failed');
    h.dialer.onStatus('CA2', 'completed');
    await vi.advanceTimersByTimeAsync(300_000);
    expect(h.noAnswer).toEqual(['every agent failed']);
    expect(h.control.dials).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("an agent that hangs up before its stream starts ('completed', not the winner) counts as failed", async () => {
    const h = setup({ agents: AGENTS.slice(0, 2) });
    h.dialer.start();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'completed');
    expect(h.control.dials).toHaveLength(2);
    await answer(h, 1);
    h.dialer.onStatus('CA2', 'canceled');
    expect(h.noAnswer).toEqual(['every agent failed']);
    expect(h.winnerHungUp).toBe(0);
  });

  it('a REST error (dial() rejects) counts as failed, and the refused number is not logged in full', async () => {
    const lines: string[] = [];
    const h = setup({ agents: AGENTS.slice(0, 2) }, createLogger('debug', { write: (s: string) => void lines.push(s) }));
    h.dialer.start();
    h.control.dials[0]!.refuse(Object.assign(new Error(`The 'To' number ${AGENTS[0]} is not a valid phone number.`), { status: 400, code: 21211 }));
    await settle();
    expect(h.control.dialledNumbers).toEqual([AGENTS[0], AGENTS[1]]);
    const warn = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'agent call could not be placed');
    expect(warn).toMatchObject({ agent: 0, status: 400, code: 21211 });
    expect(lines.join('\n')).not.toContain(AGENTS[0]);
    expect(String(warn?.message)).toContain('0001'); // still traceable by its last digits

    h.control.dials[1]!.refuse(new Error('Service unavailable'));
    await settle();
    expect(h.noAnswer).toEqual(['every agent failed']);
    expect(h.control.cancelled).toEqual([]);
  });

  it('keeps a status callback that arrives before the REST answer and applies it when the answer comes', async () => {
    const h = setup();
    h.dialer.start();
    h.dialer.onStatus('CA1', 'ringing');
    h.dialer.onStatus('CA1', 'busy'); // Twilio was faster than its own REST response
    expect(h.control.dials).toHaveLength(1);
    await answer(h, 0);
    expect(h.control.dialledNumbers).toEqual([AGENTS[0], AGENTS[1]]);
    expect(h.control.cancelled).toEqual([]);
  });

  it('an early non-final status is kept too, and the dial goes on ringing', async () => {
    const h = setup();
    h.dialer.start();
    h.dialer.onStatus('CA1', 'ringing');
    await answer(h, 0);
    expect(h.control.dials).toHaveLength(1);
    expect(h.dialer.accept('CA1')).toBe(true);
    expect(h.dialer.state).toBe('won');
  });

  it('ring timeout: with no no-answer callback, the dial is cancelled after ringTimeoutS + RING_GRACE_S and the next agent rung', async () => {
    const h = setup();
    h.dialer.start();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'ringing');
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS - 1);
    expect(h.control.dials).toHaveLength(1);
    expect(h.control.cancelled).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.control.cancelled).toEqual(['CA1']);
    expect(h.control.dialledNumbers).toEqual([AGENTS[0], AGENTS[1]]);
    // Twilio's no-answer callback arriving after all does not skip an agent.
    h.dialer.onStatus('CA1', 'no-answer');
    expect(h.control.dials).toHaveLength(2);
    // The next agent has a ring timer of its own.
    await answer(h, 1);
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS);
    expect(h.control.cancelled).toEqual(['CA1', 'CA2']);
    expect(h.control.dials).toHaveLength(3);
  });

  it('a REST answer that arrives after its dial timed out cancels that call', async () => {
    const h = setup();
    h.dialer.start();
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS); // Twilio's REST API never answered in time
    expect(h.control.dials).toHaveLength(2);
    expect(h.control.cancelled).toEqual([]); // nothing to cancel yet: no CallSid
    await answer(h, 0);
    expect(h.control.cancelled).toEqual(['CA1']);
    // Its callbacks change nothing now; the second agent is still the one ringing.
    h.dialer.onStatus('CA1', 'busy');
    expect(h.control.dials).toHaveLength(2);
    expect(h.dialer.state).toBe('dialing');
    expect(h.dialer.accept('CA2')).toBe(true);
  });

  it('the line dial timeout ends the dialling: onNoAnswer and the ringing dial cancelled', async () => {
    const h = setup({ dialTimeoutS: 40 });
    h.dialer.start();
    await answer(h, 0);
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS); // agent 1 rang out at 25 s
    await answer(h, 1);
    h.dialer.onStatus('CA2', 'ringing');
    await vi.advanceTimersByTimeAsync(40_000 - RING_LIMIT_MS - 1);
    expect(h.noAnswer).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.noAnswer).toEqual(['timeout']);
    expect(h.dialer.state).toBe('failed');
    expect(h.control.cancelled).toEqual(['CA1', 'CA2']);
    expect(h.control.dials).toHaveLength(2); // the third agent is never rung
    expect(vi.getTimerCount()).toBe(0);
    // Late callbacks and stream starts after the timeout change nothing.
    h.dialer.onStatus('CA2', 'no-answer');
    expect(h.dialer.accept('CA2')).toBe(false);
    expect(h.noAnswer).toEqual(['timeout']);
  });

  it('accepting the ringing agent wins: no more dials, no timeout afterwards', async () => {
    const h = setup({ dialTimeoutS: 30 });
    h.dialer.start();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'in-progress');
    expect(h.dialer.accept('CA1')).toBe(true);
    expect(h.dialer.state).toBe('won');
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(300_000);
    expect(h.noAnswer).toEqual([]);
    expect(h.control.cancelled).toEqual([]);
    expect(h.control.dials).toHaveLength(1);
  });

  it('no agents: onNoAnswer at once', () => {
    const h = setup({ agents: [] });
    h.dialer.start();
    expect(h.control.dials).toHaveLength(0);
    expect(h.noAnswer).toEqual(['no agents']);
    expect(h.dialer.state).toBe('failed');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('Dialer: simultaneous ringing', () => {
  it('dials every agent at once; the first accept() wins and the others are cancelled', async () => {
    const h = setup({ ring: 'simultaneous' });
    h.dialer.start();
    expect(h.control.dialledNumbers).toEqual([...AGENTS]);
    for (const i of [0, 1, 2]) await answer(h, i);
    expect(h.dialer.dialled).toBe(3);

    expect(h.dialer.accept('CA2')).toBe(true);
    expect(h.dialer.state).toBe('won');
    expect(h.control.cancelled.sort()).toEqual(['CA1', 'CA3']);
    // A second agent's stream starting a moment later is refused.
    expect(h.dialer.accept('CA1')).toBe(false);
    expect(h.dialer.accept('CA2')).toBe(false);
    // The losers' final callbacks are not a no-answer, nor the winner hanging up.
    h.dialer.onStatus('CA1', 'canceled');
    h.dialer.onStatus('CA3', 'completed');
    expect(h.noAnswer).toEqual([]);
    expect(h.winnerHungUp).toBe(0);
    expect(vi.getTimerCount()).toBe(0);

    // The winner's `completed` is the agent hanging up.
    h.dialer.onStatus('CA2', 'completed');
    expect(h.winnerHungUp).toBe(1);
    expect(h.control.cancelled.sort()).toEqual(['CA1', 'CA3']);
  });

  it('a REST answer arriving after another agent won is cancelled', async () => {
    const h = setup({ ring: 'simultaneous' });
    h.dialer.start();
    await answer(h, 0);
    expect(h.dialer.accept('CA1')).toBe(true);
    expect(h.control.cancelled).toEqual([]); // the others have no CallSid yet
    await answer(h, 2);
    expect(h.control.cancelled).toEqual(['CA3']);
    h.control.dials[1]!.refuse(new Error('late failure'));
    await settle();
    expect(h.noAnswer).toEqual([]);
    expect(h.dialer.state).toBe('won');
  });

  it("a winner whose stream starts before its own REST answer is not cancelled when that answer comes", async () => {
    const h = setup({ ring: 'simultaneous' });
    h.dialer.start();
    await answer(h, 0);
    expect(h.dialer.accept('CA2')).toBe(true); // CA2's REST response still on its way
    expect(h.control.cancelled).toEqual(['CA1']);
    await answer(h, 1);
    await answer(h, 2);
    expect(h.control.cancelled).toEqual(['CA1', 'CA3']);
    h.dialer.onStatus('CA2', 'completed');
    expect(h.winnerHungUp).toBe(1);
  });

  it('one failure among agents still ringing is not a no-answer; the last one failing is, once', async () => {
    const h = setup({ ring: 'simultaneous' });
    h.dialer.start();
    await answer(h, 0);
    h.dialer.onStatus('CA1', 'busy');
    h.control.dials[1]!.refuse(new Error('Invalid number'));
    await settle();
    expect(h.noAnswer).toEqual([]);
    expect(h.control.dials).toHaveLength(3); // nobody is re-dialled
    h.dialer.onStatus('CA3', 'no-answer'); // before its REST answer: kept
    expect(h.noAnswer).toEqual([]);
    await answer(h, 2);
    expect(h.noAnswer).toEqual(['every agent failed']);
    expect(h.control.cancelled).toEqual([]);
  });

  it('each dial has its own ring timer; all of them ringing out is a no-answer', async () => {
    const h = setup({ ring: 'simultaneous' });
    h.dialer.start();
    for (const i of [0, 1, 2]) await answer(h, i);
    h.dialer.onStatus('CA2', 'busy');
    await vi.advanceTimersByTimeAsync(RING_LIMIT_MS);
    expect(h.control.cancelled.sort()).toEqual(['CA1', 'CA3']);
    expect(h.noAnswer).toEqual(['every agent failed']);
  });

  it('the dial timeout cancels every dial still ringing, and a later REST answer is cancelled too', async () => {
    const h = setup({ ring: 'simultaneous', dialTimeoutS: 10 });
    h.dialer.start();
    await answer(h, 0);
    await answer(h, 1);
    h.dialer.onStatus('CA2', 'busy');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.noAnswer).toEqual(['timeout']);
    expect(h.control.cancelled).toEqual(['CA1']); // CA2 ended by itself; CA3 has no CallSid yet
    await answer(h, 2);
    expect(h.control.cancelled).toEqual(['CA1', 'CA3']);
    expect(h.noAnswer).toEqual(['timeout']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('Dialer: stop (the room ended) and refusals', () => {
  it('stop() cancels every dial still ringing and nothing fires afterwards', async () => {
    const h = setup({ ring: 'simultaneous', dialTimeoutS: 30 });
    h.dialer.start();
    await answer(h, 0);
    await answer(h, 1);
    h.dialer.onStatus('CA1', 'busy');
    h.dialer.stop();
    expect(h.dialer.state).toBe('stopped');
    expect(h.control.cancelled).toEqual(['CA2']);
    expect(vi.getTimerCount()).toBe(0);

    // A REST answer after the hang-up is cancelled; callbacks, timers and streams do nothing.
    await answer(h, 2);
    expect(h.control.cancelled).toEqual(['CA2', 'CA3']);
    h.dialer.onStatus('CA3', 'no-answer');
    h.dialer.onStatus('CA2', 'completed');
    await vi.advanceTimersByTimeAsync(300_000);
    expect(h.dialer.accept('CA3')).toBe(false);
    expect(h.noAnswer).toEqual([]);
    expect(h.winnerHungUp).toBe(0);
    expect(h.control.dials).toHaveLength(3);

    h.dialer.stop(); // idempotent
    expect(h.control.cancelled).toEqual(['CA2', 'CA3']);
  });

  it('stop() during sequential ringing: the pending dial is cancelled when its answer comes, no next agent', async () => {
    const h = setup();
    h.dialer.start();
    h.dialer.onStatus('CA1', 'ringing'); // early status, dropped by stop()
    h.dialer.stop();
    await answer(h, 0);
    expect(h.control.cancelled).toEqual(['CA1']);
    h.dialer.onStatus('CA1', 'busy');
    expect(h.control.dials).toHaveLength(1);
    expect(h.noAnswer).toEqual([]);
  });

  it('stop() after a win does not cancel the winner, nor report its hang-up', async () => {
    const h = setup();
    h.dialer.start();
    await answer(h, 0);
    expect(h.dialer.accept('CA1')).toBe(true);
    h.dialer.stop();
    expect(h.control.cancelled).toEqual([]);
    h.dialer.onStatus('CA1', 'completed');
    expect(h.winnerHungUp).toBe(0);
  });

  it('accept() is refused when not dialling: before start, after a failure, after stop', async () => {
    const idle = setup();
    expect(idle.dialer.accept('CA1')).toBe(false);
    expect(idle.dialer.state).toBe('idle');

    const failed = setup({ agents: AGENTS.slice(0, 1) });
    failed.dialer.start();
    await answer(failed, 0);
    failed.dialer.onStatus('CA1', 'busy');
    expect(failed.dialer.accept('CA1')).toBe(false);
    expect(failed.dialer.state).toBe('failed');

    const stopped = setup();
    stopped.dialer.start();
    await answer(stopped, 0);
    stopped.dialer.stop();
    expect(stopped.dialer.accept('CA1')).toBe(false);
    expect(stopped.dialer.state).toBe('stopped');
  });
});
