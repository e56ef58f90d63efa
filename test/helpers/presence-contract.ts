/**
 * The PresenceStore contract (src/session/line/presence.ts) as one test suite, run against the
 * in-process store and the Redis one: strategies, wrap-up, pause, FIFO queues, head-only
 * claims, exclude lists, stale releases and change notifications.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AgentState, PresenceStore, Strategy } from '../../src/session/line/presence.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `ok` until it holds or `ms` passes. */
export async function until(ok: () => boolean | Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

export async function stateOf(p: PresenceStore, id: string): Promise<AgentState | undefined> {
  return (await p.snapshot()).find((a) => a.id === id)?.state;
}

const ROSTER = ['x', 'y', 'z'];

export function presenceContract(name: string, make: () => Promise<PresenceStore>): void {
  describe(`${name}: the PresenceStore contract`, () => {
    const open: PresenceStore[] = [];
    const store = async (roster: readonly string[] = ROSTER) => {
      const p = await make();
      open.push(p);
      await p.setRoster(roster);
      return p;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => p.close()));
    });

    /** Claims for each caller in turn and releases at once: the agents a strategy picks, in order. */
    const picks = async (p: PresenceStore, strategy: Strategy, n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) {
        const callSid = `CA-${strategy}-${i}`;
        await p.enqueue({ line: 'L', callSid });
        const [agent] = await p.claim({ line: 'L', callSid, candidates: ROSTER, strategy });
        out.push(agent!);
        await p.leave('L', callSid);
        await p.release(agent!, callSid, { wrapUpMs: 0, answered: false });
      }
      return out;
    };

    it('starts a roster available, idempotently, and only adds', async () => {
      const p = await store();
      await p.setRoster(['x', 'y']);
      const s = await p.snapshot();
      expect(s.map((a) => a.id).sort()).toEqual(ROSTER);
      for (const a of s) expect(a).toMatchObject({ state: 'available', callsTaken: 0, lastCallEndedAt: undefined, callSid: undefined });
    });

    it('keeps each line’s queue first in first out; a re-queued caller keeps its place', async () => {
      const p = await store();
      const a = await p.enqueue({ line: 'L', callSid: 'A' });
      await p.enqueue({ line: 'L', callSid: 'B' });
      await p.enqueue({ line: 'L', callSid: 'C' });
      await p.enqueue({ line: 'M', callSid: 'D' });
      expect(a).toMatchObject({ line: 'L', callSid: 'A' });
      expect(typeof a.instance).toBe('string');
      expect((await p.queue('L')).map((w) => w.callSid)).toEqual(['A', 'B', 'C']);
      expect((await p.queue('M')).map((w) => w.callSid)).toEqual(['D']);
      await p.enqueue({ line: 'L', callSid: 'B' }); // already queued: stays where it is
      await p.leave('L', 'A');
      await p.leave('L', 'A');
      expect((await p.queue('L')).map((w) => w.callSid)).toEqual(['B', 'C']);
      await p.enqueue({ line: 'L', callSid: 'A', enqueuedAt: a.enqueuedAt }); // back at its place
      const q = await p.queue('L');
      expect(q.map((w) => w.callSid)).toEqual(['A', 'B', 'C']);
      expect(q[0]!.enqueuedAt).toBe(a.enqueuedAt);
      expect(await p.queue('none')).toEqual([]);
    });

    it('claims only for the head of the line that is not being dialled', async () => {
      const p = await store();
      for (const c of ['A', 'B', 'C']) await p.enqueue({ line: 'L', callSid: c });
      const req = (callSid: string) => ({ line: 'L', callSid, candidates: ROSTER, strategy: 'linear' as const });
      expect(await p.claim(req('B'))).toEqual([]);
      expect(await p.claim(req('nobody'))).toEqual([]);
      expect(await p.claim(req('A'))).toEqual(['x']);
      expect(await p.claim(req('A'))).toEqual([]); // being dialled
      expect(await p.claim(req('C'))).toEqual([]);
      expect(await p.claim(req('B'))).toEqual(['y']);
      const x = (await p.snapshot()).find((a) => a.id === 'x')!;
      expect(x).toMatchObject({ state: 'ringing', callSid: 'A' });
      // A's agent did not answer: A is the head again, ahead of C
      await p.release('x', 'A', { wrapUpMs: 0, answered: false });
      expect(await p.claim(req('C'))).toEqual([]);
      expect(await p.claim({ ...req('A'), exclude: ['x'] })).toEqual(['z']);
      expect(await p.claim(req('C'))).toEqual(['x']);
    });

    it('honours the exclude list, and a caller who excluded every free agent holds up nobody', async () => {
      const p = await store();
      await p.enqueue({ line: 'L', callSid: 'A' });
      await p.enqueue({ line: 'L', callSid: 'B' });
      const req = (callSid: string, exclude: string[]) => ({ line: 'L', callSid, candidates: ROSTER, strategy: 'linear' as const, exclude });
      expect(await p.claim(req('A', ['x', 'y', 'z']))).toEqual([]);
      expect(await p.claim(req('B', []))).toEqual(['x']);
      expect(await p.claim(req('A', ['y']))).toEqual(['z']);
    });

    it('linear: the roster order, first available', async () => {
      const p = await store();
      expect(await picks(p, 'linear', 3)).toEqual(['x', 'x', 'x']);
      await p.setPaused('x', true);
      expect(await picks(p, 'linear', 1)).toEqual(['y']);
    });

    it('rrmemory: round robin from after the agent this line last rang', async () => {
      const p = await store();
      expect(await picks(p, 'rrmemory', 4)).toEqual(['x', 'y', 'z', 'x']);
      await p.setPaused('y', true);
      expect(await picks(p, 'rrmemory', 2)).toEqual(['z', 'x']);
    });

    it('ringall: every available agent at once, in roster order', async () => {
      const p = await store();
      await p.setPaused('y', true);
      await p.enqueue({ line: 'L', callSid: 'A' });
      expect(await p.claim({ line: 'L', callSid: 'A', candidates: ROSTER, strategy: 'ringall' })).toEqual(['x', 'z']);
      const s = await p.snapshot();
      expect(s.filter((a) => a.state === 'ringing').map((a) => a.id).sort()).toEqual(['x', 'z']);
      // one accepts, the other is released
      await p.connected('z', 'A');
      await p.release('x', 'A', { wrapUpMs: 0, answered: false });
      expect(await stateOf(p, 'z')).toBe('on-call');
      expect(await stateOf(p, 'x')).toBe('available');
    });

    const answer = async (p: PresenceStore, agent: string, callSid: string) => {
      await p.enqueue({ line: 'K', callSid });
      expect(await p.claim({ line: 'K', callSid, candidates: [agent], strategy: 'linear' })).toEqual([agent]);
      await p.leave('K', callSid);
      await p.connected(agent, callSid);
      await p.release(agent, callSid, { wrapUpMs: 0, answered: true });
    };

    it('fewestcalls: the agent who took the fewest calls, then roster order', async () => {
      const p = await store();
      await answer(p, 'x', 'k1');
      await answer(p, 'x', 'k2');
      await answer(p, 'y', 'k3');
      expect(await picks(p, 'fewestcalls', 1)).toEqual(['z']);
      await answer(p, 'z', 'k4');
      await answer(p, 'z', 'k5');
      expect(await picks(p, 'fewestcalls', 2)).toEqual(['y', 'y']);
    });

    it('longest-idle: never called first, then the longest since a call ended', async () => {
      const p = await store();
      await answer(p, 'y', 'k1');
      await sleep(5);
      await answer(p, 'x', 'k2');
      expect(await picks(p, 'longest-idle', 1)).toEqual(['z']);
      await answer(p, 'z', 'k3');
      expect(await picks(p, 'longest-idle', 2)).toEqual(['y', 'y']); // unanswered rings change nothing
      const s = await p.snapshot();
      const y = s.find((a) => a.id === 'y')!;
      expect(y.callsTaken).toBe(1);
      expect(y.lastCallEndedAt).toBeLessThan(s.find((a) => a.id === 'x')!.lastCallEndedAt!);
    });

    it('ignores connected and release for a callSid the agent is not claimed for', async () => {
      const p = await store();
      await p.enqueue({ line: 'L', callSid: 'A' });
      expect(await p.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' })).toEqual(['x']);
      await p.connected('x', 'stale');
      await p.release('x', 'stale', { wrapUpMs: 0, answered: true });
      expect(await stateOf(p, 'x')).toBe('ringing');
      await p.connected('x', 'A');
      expect((await p.snapshot()).find((a) => a.id === 'x')).toMatchObject({ state: 'on-call', callSid: 'A', callsTaken: 0 });
      await p.release('x', 'A', { wrapUpMs: 0, answered: true });
      await p.release('x', 'A', { wrapUpMs: 0, answered: true });
      expect((await p.snapshot()).find((a) => a.id === 'x')).toMatchObject({ state: 'available', callSid: undefined, callsTaken: 1 });
      await p.release('unknown', 'A', { wrapUpMs: 0, answered: true });
    });

    it('wrap-up: not claimed until it ends, then available, with a change notification', async () => {
      const p = await store();
      await p.enqueue({ line: 'L', callSid: 'A' });
      await p.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'linear' });
      await p.leave('L', 'A');
      await p.connected('x', 'A');
      await p.enqueue({ line: 'L', callSid: 'B' });
      await p.release('x', 'A', { wrapUpMs: 300, answered: true });
      expect(await stateOf(p, 'x')).toBe('wrap-up');
      expect(await p.claim({ line: 'L', callSid: 'B', candidates: ['x'], strategy: 'linear' })).toEqual([]);
      await sleep(100); // the release's own notification has come and gone
      let heard = 0;
      const off = p.onChange(() => heard++);
      await until(() => heard > 0, 1500);
      off();
      expect(await stateOf(p, 'x')).toBe('available');
      expect(await p.claim({ line: 'L', callSid: 'B', candidates: ['x'], strategy: 'linear' })).toEqual(['x']);
    });

    it('pause: never claimed while paused; a call in progress goes on; resume notifies', async () => {
      const p = await store();
      await p.setPaused('x', true);
      expect(await stateOf(p, 'x')).toBe('paused');
      await p.enqueue({ line: 'L', callSid: 'A' });
      expect(await p.claim({ line: 'L', callSid: 'A', candidates: ['x'], strategy: 'ringall' })).toEqual([]);
      expect(await p.claim({ line: 'L', callSid: 'A', candidates: ['x', 'y'], strategy: 'linear' })).toEqual(['y']);
      await p.setPaused('y', true);
      expect(await stateOf(p, 'y')).toBe('ringing');
      await p.connected('y', 'A');
      expect(await stateOf(p, 'y')).toBe('on-call');
      await p.release('y', 'A', { wrapUpMs: 0, answered: true });
      expect(await stateOf(p, 'y')).toBe('paused');
      await sleep(50);
      let heard = 0;
      p.onChange(() => heard++);
      await p.setPaused('x', false);
      expect(await stateOf(p, 'x')).toBe('available');
      await until(() => heard > 0, 1000);
    });

    it('notifies on a later turn, never inside the call; unsubscribe stops it', async () => {
      const p = await store();
      let heard = 0;
      const off = p.onChange(() => heard++);
      const during = p.enqueue({ line: 'L', callSid: 'A' });
      expect(heard).toBe(0);
      await during;
      await until(() => heard > 0, 1000);
      off();
      await sleep(50);
      const before = heard;
      await p.enqueue({ line: 'L', callSid: 'B' });
      await sleep(100);
      expect(heard).toBe(before);
    });
  });
}
