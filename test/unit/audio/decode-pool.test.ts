/**
 * Uploads decoded off the event loop (src/audio/codecs/decode-pool.ts): real worker threads,
 * real decoders, the bombs of test/helpers/bombs.ts. Each is refused with a clear
 * AudioDecodeError within a couple of seconds, or decoded within its bounds, while the main
 * thread's event loop stays free; the time and memory budgets stop a decode and replace its
 * worker; an abort ends the decode; the pool never runs more workers than its size.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AudioDecodeError, type DecodeFailure } from '../../../src/audio/codecs/decode.js';
import { DecodePool } from '../../../src/audio/codecs/decode-pool.js';
import { BOMBS } from '../../../tools/fakes/bombs.js';
import { fixture } from '../../helpers/audio-check.js';

const pools: DecodePool[] = [];
const newPool = (opts: ConstructorParameters<typeof DecodePool>[0] = {}) => {
  const p = new DecodePool(opts);
  pools.push(p);
  return p;
};
afterAll(() => Promise.all(pools.map((p) => p.close())));

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok' as const,
    (e: unknown) => e,
  );

describe('decoding in worker threads', () => {
  it('answers every bomb with a clear error, or decodes it within its bounds; the event loop stays free and RSS bounded', async () => {
    // (the bombs decoded in full are some 2-3 s of work; a loaded machine may take far longer)
    const pool = newPool({ size: 1, timeBudgetMs: () => 120_000 });
    const want: Record<string, DecodeFailure | 'ok'> = {
      'webm-laced-empty-140k': 'corrupt',
      'webm-laced-tiny-140k': 'too_long',
      'ogg-opus-64ch': 'unsupported',
      'ogg-opus-8ch-empty-packets': 'ok', // 214 s of concealment on 8 channels: within the limit
      'ogg-opus-mono-1h': 'too_long',
      'flac-8ch-constant-1k': 'ok', // 246 s at 8 kHz on 8 channels, decoded in bounded slices
      'flac-8ch-constant-64k': 'too_long',
      'wav-64ch': 'unsupported',
    };
    await pool.start(fixture('jfk_3s_16k.wav'), { maxSeconds: 300 }).done; // a thread started
    const rss0 = process.memoryUsage().rss;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - rss0)), 10);
    const delay = monitorEventLoopDelay({ resolution: 5 });
    delay.enable();
    try {
      for (const [name, kind] of Object.entries(want)) {
        const t = performance.now();
        const job = pool.start(BOMBS[name]!(), { maxSeconds: 300 });
        const r = await outcome(job.done);
        const ms = performance.now() - t;
        if (kind === 'ok') {
          expect(r, name).toBe('ok');
          expect(job.take().reduce((s, x) => s + x.length, 0), name).toBeLessThanOrEqual(300.5 * 16000);
        } else {
          expect(r, name).toBeInstanceOf(AudioDecodeError);
          expect((r as AudioDecodeError).kind, `${name}: ${(r as Error).message}`).toBe(kind);
          expect((r as Error).message.length, name).toBeGreaterThan(20);
          expect(ms, name).toBeLessThan(5000); // refused, not decoded (in ms when the machine is quiet)
        }
      }
    } finally {
      delay.disable();
      clearInterval(sampler);
    }
    expect(delay.max / 1e6).toBeLessThan(250); // no decode ran on this thread (in-thread: 0.8-1.5 s)
    expect(peak).toBeLessThan(512 * 1024 * 1024);
  }, 300_000);

  it('a decode past its time budget is stopped (too_slow) and its worker replaced; the next one is served', async () => {
    const pool = newPool({ size: 1, timeBudgetMs: (maxSeconds) => (maxSeconds === 299 ? 300 : 60_000) });
    const r = await outcome(pool.start(BOMBS['ogg-opus-8ch-empty-packets']!(), { maxSeconds: 299 }).done);
    expect(r).toBeInstanceOf(AudioDecodeError);
    expect((r as AudioDecodeError).kind).toBe('too_slow');
    expect((r as Error).message).toMatch(/took longer than 0\.3 s to decode/);
    await expect(pool.start(fixture('jfk_3s.opus'), { maxSeconds: 300 }).done).resolves.toMatchObject({ container: 'ogg-opus' });
  }, 90_000);

  it('a decode past its memory budget is stopped (too_large)', async () => {
    const pool = newPool({ size: 1, memoryMb: 1 });
    const r = await outcome(pool.start(fixture('jfk_3s_16k.flac'), { maxSeconds: 300 }).done);
    expect(r).toBeInstanceOf(AudioDecodeError);
    expect((r as AudioDecodeError).kind).toBe('too_large');
    expect((r as Error).message).toMatch(/more than the 1 MB of memory this server gives one upload/);
  }, 30_000);

  it('an abort ends the decode with its reason, waiting or running', async () => {
    const pool = newPool({ size: 1, timeBudgetMs: () => 120_000 });
    const running = new AbortController();
    const waiting = new AbortController();
    const a = pool.start(BOMBS['ogg-opus-8ch-empty-packets']!(), { maxSeconds: 300, signal: running.signal });
    const b = pool.start(fixture('jfk_3s.opus'), { maxSeconds: 300, signal: waiting.signal });
    await new Promise((r) => setTimeout(r, 200));
    expect(pool.load).toMatchObject({ running: 1, waiting: 1 });
    waiting.abort(new Error('client gone (waiting)'));
    await expect(b.done).rejects.toThrow('client gone (waiting)');
    const t = performance.now();
    running.abort(new Error('client gone'));
    await expect(a.done).rejects.toThrow('client gone');
    expect(performance.now() - t).toBeLessThan(500);
    expect(pool.load).toMatchObject({ running: 0, waiting: 0, workers: 0 }); // the worker was ended
  }, 30_000);

  it('runs no more workers than its size; the rest wait their turn and are all served', async () => {
    const pool = newPool({ size: 2 });
    const files = ['jfk_3s_16k.flac', 'jfk_3s.opus', 'jfk_3s_22k_stereo.ogg', 'jfk_3s_44k_stereo.mp3', 'jfk_3s.webm', 'jfk_3s_16k.wav'];
    const jobs = files.map((f) => pool.start(fixture(f), { maxSeconds: 300 }));
    expect(pool.load.workers).toBeLessThanOrEqual(2);
    expect(pool.load.waiting).toBeGreaterThanOrEqual(files.length - 2);
    const facts = await Promise.all(jobs.map((j) => j.done));
    expect(facts.every((f) => Math.abs(f.seconds - 3) < 0.05)).toBe(true);
    expect(jobs.every((j) => Math.abs(j.take().reduce((s, x) => s + x.length, 0) - 48000) < 400)).toBe(true);
    expect(pool.load.workers).toBeLessThanOrEqual(2);
  }, 30_000);

  it("transfers the caller's buffer when asked, and copies it otherwise", async () => {
    const pool = newPool({ size: 1 });
    const kept = new Uint8Array(fixture('jfk_3s.opus'));
    await pool.start(kept, { maxSeconds: 300 }).done;
    expect(kept.byteLength).toBeGreaterThan(0);
    const given = new Uint8Array(fixture('jfk_3s.opus'));
    await pool.start(given, { maxSeconds: 300, transfer: true }).done;
    expect(given.byteLength).toBe(0); // detached: handed to the worker, not copied
  }, 30_000);

  it('states the container length without decoding, and refuses before that for an unsupported file', async () => {
    const pool = newPool({ size: 1 });
    await expect(pool.start(fixture('jfk_3s_16k.flac'), { maxSeconds: 300 }).stated()).resolves.toEqual({ seconds: 3, endsEarly: false });
    const m4a = pool.start(fixture('jfk_3s.m4a'), { maxSeconds: 300 });
    await expect(m4a.stated()).rejects.toMatchObject({ kind: 'unsupported' });
    await expect(m4a.done).rejects.toBeInstanceOf(AudioDecodeError);
  }, 30_000);
});
