/**
 * A bounded fuzz run over the upload decoders, as the API runs them (worker threads of
 * src/audio/codecs/decode-pool.ts): first every input of the corpus (test/fixtures/fuzz-corpus/,
 * each an input that once broke something), then inputs generated from the container specs
 * (test/helpers/bombs.ts) and mutations of the fixtures and bombs, for FUZZ_MS (default 30 s).
 * Every input must end, within the time budget, in decoded audio within the limit or an
 * AudioDecodeError of a known kind with a message a person can read; the process's memory
 * must stay bounded. A failing input is written to a temporary folder named in the failure:
 * add it to the corpus with a line in its README.
 *
 *   FUZZ_MS=600000 FUZZ_SEED=7 npx vitest run test/unit/audio/decode-fuzz.test.ts
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AudioDecodeError, type DecodeFailure } from '../../../src/audio/codecs/decode.js';
import { DecodePool } from '../../../src/audio/codecs/decode-pool.js';
import { CORPUS_BOMBS, fixOggCrcs, flacBomb, joinBytes, oggOpusEmptyPackets, oggPage, opusHead, simpleBlock, webmHead } from '../../../tools/fakes/bombs.js';

const FUZZ_MS = Number(process.env.FUZZ_MS ?? 30_000);
const SEED = Number(process.env.FUZZ_SEED ?? 23);
/** The API's limit is configurable: a short one keeps each decode (and so the run) short. */
const MAX_SECONDS = 60;
const TIME_BUDGET_MS = 15_000;
const KINDS = new Set<DecodeFailure>(['unsupported', 'corrupt', 'truncated', 'too_long', 'empty', 'too_large']);
const CORPUS = new URL('../../fixtures/fuzz-corpus/', import.meta.url);
const FIXTURES = new URL('../../fixtures/encoded/', import.meta.url);

/** mulberry32: a small seeded generator, so a run can be replayed from its seed. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x40, 0x3f];

function mutate(r: Rng, input: Uint8Array, others: Uint8Array[]): Uint8Array {
  let b: Uint8Array = input.slice();
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    if (b.length === 0) break;
    const at = r.next() < 0.4 ? r.int(Math.min(b.length, 128)) : r.int(b.length); // headers more often
    switch (r.int(8)) {
      case 0:
        for (let i = 0, n = 1 + r.int(8); i < n; i++) b[r.int(b.length)]! ^= 1 << r.int(8);
        break;
      case 1:
        b[at] = r.pick(INTERESTING);
        break;
      case 2:
        b = b.subarray(0, at);
        break;
      case 3: {
        const len = 1 + r.int(Math.min(512, b.length - at));
        b = joinBytes([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      case 4:
        b = joinBytes([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + r.int(256)))]);
        break;
      case 5: {
        const o = r.pick(others);
        b = joinBytes([b.subarray(0, at), o.subarray(r.int(o.length))]);
        break;
      }
      case 6:
        b = joinBytes([b.subarray(0, at), Uint8Array.from({ length: 1 + r.int(64) }, () => r.int(256)), b.subarray(at)]);
        break;
      default:
        for (let i = 0; i < 4 && at + i < b.length; i++) b[at + i] = r.int(256);
    }
  }
  // Ogg pages checked by CRC would stop most mutations at the first page: fixed half the time
  return b[0] === 0x4f && r.next() < 0.5 ? fixOggCrcs(b) : b;
}

/** Inputs made from the container specs with random fields. */
function generate(r: Rng): Uint8Array {
  switch (r.int(5)) {
    case 0: {
      const channels = r.pick([1, 2, 3, 6, 8, 9, 64, 255]);
      const family = r.pick([0, 1, 255]);
      const head = opusHead(channels, family);
      const packets = Array.from({ length: 1 + r.int(200) }, () => Uint8Array.from({ length: r.int(8) }, () => r.int(256)));
      const pages = [oggPage([head], { seq: 0, granule: 0, bos: true }), oggPage([new TextEncoder().encode('OpusTags\0\0\0\0\0\0\0\0')], { seq: 1, granule: 0 })];
      for (let i = 0; i < packets.length; i += 100) pages.push(oggPage(packets.slice(i, i + 100), { seq: 2 + i, granule: r.int(2 ** 32), eos: i + 100 >= packets.length }));
      return joinBytes(pages);
    }
    case 1:
      return oggOpusEmptyPackets(1 + r.int(8), 1 + r.int(300));
    case 2:
      return flacBomb(1 + r.int(20), { channels: 1 + r.int(8), rate: r.pick([8000, 16000, 44100, 48000]) });
    case 3: {
      const blocks = Array.from({ length: 1 + r.int(300) }, () =>
        simpleBlock(0x80 | (r.int(4) << 1), Uint8Array.from({ length: r.int(40) }, (_, i) => (i === 0 ? r.int(256) : r.pick([0x18, 0xfc, 0xfb, r.int(256)])))),
      );
      return joinBytes([webmHead(r.pick([1, 2, 6, 64])), ...blocks]);
    }
    default: {
      const magic = r.pick(['OggS', 'fLaC', 'RIFF\x10\0\0\0WAVEfmt ', '\x1aE\xdf\xa3', 'ID3\x03\0\0\0\0\0\x10', '\xff\xfb\x90\x00']);
      return joinBytes([Uint8Array.from(magic, (c) => c.charCodeAt(0)), Uint8Array.from({ length: r.int(4096) }, () => r.int(256))]);
    }
  }
}

interface Finding {
  input: Uint8Array;
  what: string;
}

const pool = new DecodePool({ size: 1, timeBudgetMs: () => TIME_BUDGET_MS });
afterAll(() => pool.close());

/** Outcomes by kind ("ok" and the AudioDecodeError kinds), reported at the end of the run. */
const tally = new Map<string, number>();
const count = (k: string) => tally.set(k, (tally.get(k) ?? 0) + 1);

/** Decodes one input; returns what was wrong with the outcome, if anything. */
async function check(input: Uint8Array): Promise<string | undefined> {
  const job = pool.start(input, { maxSeconds: MAX_SECONDS });
  try {
    const facts = await job.done;
    count(`ok ${facts.container}`);
    const samples = job.take().reduce((s, x) => s + x.length, 0);
    if (!(facts.seconds <= MAX_SECONDS + 0.5 + 0.2)) return `decoded ${facts.seconds} s, past the ${MAX_SECONDS} s limit`;
    if (Math.abs(samples - Math.round(facts.seconds * 16000)) > 2) return `${samples} samples for ${facts.seconds} s`;
    if (facts.channels < 1 || facts.channels > 8) return `${facts.channels} channels`;
    return undefined;
  } catch (err) {
    if (!(err instanceof AudioDecodeError)) return `not an AudioDecodeError: ${String(err)}`;
    count(err.kind);
    if (!KINDS.has(err.kind)) return `${err.kind}: ${err.message}`; // too_slow is a hang here
    if (err.message.length < 15 || /undefined|\[object/.test(err.message)) return `unclear message: ${err.message}`;
    return undefined;
  }
}

function save(findings: Finding[]): string {
  const dir = path.join(tmpdir(), `voice-mask-fuzz-${SEED}`);
  mkdirSync(dir, { recursive: true });
  for (const f of findings) writeFileSync(path.join(dir, `${createHash('sha256').update(f.input).digest('hex').slice(0, 16)}.bin`), f.input);
  return dir;
}

describe('decoder fuzzing (bounded)', () => {
  it(`the corpus, then generated and mutated inputs for ${FUZZ_MS / 1000} s: a clear outcome each, no hang, memory bounded`, async () => {
    const findings: Finding[] = [];
    const rss0 = process.memoryUsage().rss;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss - rss0)), 20);
    let runs = 0;
    let corpusSize = 0;
    const run = async (input: Uint8Array) => {
      runs++;
      const what = await check(input);
      if (what) findings.push({ input, what });
    };
    try {
      const corpus = readdirSync(CORPUS).filter((f) => f.endsWith('.bin'));
      expect(corpus.length).toBeGreaterThanOrEqual(Object.keys(CORPUS_BOMBS).length);
      corpusSize = corpus.length;
      for (const f of corpus) await run(readFileSync(new URL(f, CORPUS)));
      const seeds = [
        ...readdirSync(FIXTURES)
          .filter((f) => !f.endsWith('.m4a'))
          .map((f) => new Uint8Array(readFileSync(new URL(f, FIXTURES)))),
        ...corpus.map((f) => new Uint8Array(readFileSync(new URL(f, CORPUS)))).filter((b) => b.length < 200_000),
      ];
      const r = rng(SEED);
      const end = performance.now() + FUZZ_MS;
      while (performance.now() < end) {
        await run(r.next() < 0.25 ? generate(r) : mutate(r, r.pick(seeds), seeds));
      }
    } finally {
      clearInterval(sampler);
    }
    const where = findings.length > 0 ? save(findings) : '';
    process.stdout.write(`decode fuzz: seed ${SEED}, ${runs} inputs, ${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}, peak RSS +${Math.round(peak / 1e6)} MB\n`);
    expect(findings.map((f) => f.what), `seed ${SEED}, ${runs} inputs; failing inputs in ${where}`).toEqual([]);
    expect(runs).toBeGreaterThan(corpusSize + 20);
    expect(peak).toBeLessThan(512 * 1024 * 1024);
  }, FUZZ_MS + 240_000);
});
