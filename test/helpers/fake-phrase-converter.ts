/**
 * A scripted phrase backend for tests of our converter contract (src/voice/converter.ts), in
 * the shape of livekit agents-js's `stt/testing/fake_stt.ts`: a real PhraseConverter whose
 * conversions follow a script, one behaviour per call (the n-th convert() takes script[n], or
 * the default): a time to first byte, an answer in chunks with pauses between them, a failure
 * (any Error, usually a ConversionError) before or after some chunks, or a hold that lasts until
 * the test releases it (a hold never released is a hang). Every wait honours the request's
 * AbortSignal, and an abort ends the conversion with ConversionError kind 'aborted', as the real
 * backends do.
 *
 * Each answer is filled with a byte that names its conversion (fakeTag(index), never mu-law
 * silence), so what a listener heard tells which phrase it came from. Every call is recorded
 * (request, behaviour, chunks yielded, outcome); the test waits on events (whenCalled,
 * whenSettled), not on time.
 *
 *   const backend = new FakePhraseConverter({ script: [{ delayMs: 50 }, { fail: ConversionError.fromStatus(422, 'bad') }] });
 *   const backend = new FakePhraseConverter({ default: { hold: true, chunks: 3 } });
 *   ... backend.release(0); await backend.whenSettled(0); backend.calls[1]!.request.signal.aborted ...
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PhraseConverter, PhraseRequest } from '../../src/voice/converter.js';
import { abortedError, ConversionError } from '../../src/voice/errors.js';
import { asMasked, type MaskedAudio } from '../../src/voice/masked.js';

/** What one conversion does. Every field is optional: the default answers at once, in one chunk, as long as the phrase. */
export interface FakeBehaviour {
  /** Wait before anything else, ms (the backend's time to first byte). */
  delayMs?: number;
  /** After delayMs, wait until release(index) (or an abort). Never released: a hang. */
  hold?: boolean;
  /** The answer in this many chunks (default 1). */
  chunks?: number;
  /** Pause between chunks, ms (default 0). */
  chunkDelayMs?: number;
  /** Length of the answer in bytes of 8 kHz mu-law (default: the phrase's duration, one byte per 8 kHz sample). */
  bytes?: number;
  /** The byte the answer is made of (default fakeTag(index)). */
  fill?: number;
  /** Throw this once `failAfterChunks` chunks (at most all of them) have been yielded. */
  fail?: Error;
  /** Chunks yielded before `fail` is thrown (default 0: no audio at all). */
  failAfterChunks?: number;
}

export type FakeOutcome = 'converted' | 'failed' | 'aborted';

export interface FakeConversion {
  /** 0-based, in call order. */
  index: number;
  request: PhraseRequest;
  behaviour: FakeBehaviour;
  chunksYielded: number;
  bytesYielded: number;
  /** Unset while the conversion runs. */
  outcome?: FakeOutcome;
  error?: unknown;
}

export interface FakePhraseConverterOptions {
  name?: string;
  /** One behaviour per call, by call index; a missing entry takes `default`. */
  script?: Array<FakeBehaviour | undefined>;
  default?: FakeBehaviour;
}

/** The byte conversion `index` answers with by default: 0x20..0x5f, never mu-law silence (0xff, 0x7f). */
export const fakeTag = (index: number): number => 0x20 + (index % 0x40);

export class FakePhraseConverter implements PhraseConverter {
  readonly name: string;
  readonly calls: FakeConversion[] = [];
  closed = false;
  private script: Array<FakeBehaviour | undefined>;
  private fallback: FakeBehaviour;
  private readonly releases = new Map<number, () => void>();
  private readonly released = new Set<number>();
  private readonly waiters = new Set<() => void>();

  constructor(opts: FakePhraseConverterOptions = {}) {
    this.name = opts.name ?? 'fake-phrase';
    this.script = [...(opts.script ?? [])];
    this.fallback = opts.default ?? {};
  }

  /** Changes what the calls not yet made will do (a backend that recovers, or starts failing). */
  update(opts: { script?: Array<FakeBehaviour | undefined>; default?: FakeBehaviour }): void {
    if (opts.script) this.script = [...opts.script];
    if (opts.default) this.fallback = opts.default;
  }

  /** Lets held conversion `index` go on (now, or as soon as it reaches its hold). */
  release(index: number): void {
    this.released.add(index);
    this.releases.get(index)?.();
  }

  /** Resolves once `count` conversions have started. */
  whenCalled(count: number): Promise<void> {
    return this.waitFor(() => (this.calls.length >= count ? true : undefined)).then(() => undefined);
  }

  /** Resolves with conversion `index` once it has ended, however it ended. */
  whenSettled(index: number): Promise<FakeConversion> {
    return this.waitFor(() => (this.calls[index]?.outcome ? this.calls[index] : undefined));
  }

  convert(req: PhraseRequest): AsyncIterable<MaskedAudio> {
    const call: FakeConversion = { index: this.calls.length, request: req, behaviour: this.script[this.calls.length] ?? this.fallback, chunksYielded: 0, bytesYielded: 0 };
    this.calls.push(call);
    this.wake();
    return this.run(call);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private async *run(call: FakeConversion): AsyncGenerator<MaskedAudio> {
    const { request: req, behaviour: b } = call;
    const settle = (outcome: FakeOutcome, error?: unknown) => {
      if (call.outcome) return;
      call.outcome = outcome;
      if (error !== undefined) call.error = error;
      this.wake();
    };
    try {
      if (b.delayMs) await this.wait(sleep(b.delayMs, undefined, { signal: req.signal }), req.signal);
      if (b.hold && !this.released.has(call.index)) await this.wait(new Promise<void>((r) => this.releases.set(call.index, r)), req.signal);
      this.checkAborted(req.signal);
      const total = b.bytes ?? Math.round((req.pcm.length * 8000) / req.sampleRate);
      const chunks = Math.max(1, b.chunks ?? 1);
      const failAt = b.fail ? (b.failAfterChunks ?? 0) : Number.POSITIVE_INFINITY;
      for (let i = 0; i < chunks; i++) {
        if (i >= failAt) throw b.fail;
        if (i > 0 && b.chunkDelayMs) await this.wait(sleep(b.chunkDelayMs, undefined, { signal: req.signal }), req.signal);
        this.checkAborted(req.signal);
        const n = Math.floor(((i + 1) * total) / chunks) - Math.floor((i * total) / chunks);
        call.chunksYielded++;
        call.bytesYielded += n;
        yield asMasked(new Uint8Array(n).fill(b.fill ?? fakeTag(call.index)));
      }
      if (b.fail) throw b.fail;
      settle('converted');
    } catch (err) {
      settle(req.signal.aborted || (err instanceof ConversionError && err.kind === 'aborted') ? 'aborted' : 'failed', err);
      throw err;
    } finally {
      // The consumer stopped reading (its loop broke or returned) before the end.
      settle('aborted');
    }
  }

  /** Waits for `p`, or throws ConversionError 'aborted' when the signal fires first. */
  private async wait(p: Promise<unknown>, signal: AbortSignal): Promise<void> {
    this.checkAborted(signal);
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(cancelled(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([p, aborted]);
    } catch (err) {
      if (signal.aborted) throw cancelled(signal);
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private checkAborted(signal: AbortSignal): void {
    if (signal.aborted) throw cancelled(signal);
  }

  private waitFor<T>(ready: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve) => {
      const check = () => {
        const v = ready();
        if (v === undefined) return;
        this.waiters.delete(check);
        resolve(v);
      };
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function cancelled(signal: AbortSignal): ConversionError {
  return abortedError(signal.reason);
}
