/**
 * A short fuzz run (FUZZ_MESSAGES_MS, default 3 s) over the Media Streams parser: messages
 * written from the spec (../shared/spec/twilio-media-streams.md), their JSON values swapped
 * for values of other types and sizes, and their text mutated byte by byte. Every input must
 * give a typed event or a ProtocolError with a known reason, none taking long (a parse takes
 * microseconds; 500 ms allows for a loaded test machine).
 */
import { describe, expect, it } from 'vitest';
import { parseInbound, ProtocolError } from '../../../src/twilio/messages.js';

const FUZZ_MS = Number(process.env.FUZZ_MESSAGES_MS ?? 3000);
const SEED = Number(process.env.FUZZ_SEED ?? 23);
const REASONS = new Set(['not-json', 'unknown-event', 'invalid-message', 'bad-media-format', 'bad-payload']);
const SID = 'MZ' + '0123456789abcdef'.repeat(2);

const SEEDS: unknown[] = [
  { event: 'connected', protocol: 'Call', version: '1.0.0' },
  {
    event: 'start',
    sequenceNumber: '1',
    streamSid: SID,
    start: { accountSid: 'AC' + '1'.repeat(32), streamSid: SID, callSid: 'CA' + '2'.repeat(32), tracks: ['inbound'], customParameters: { line: 'x' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
  },
  { event: 'media', sequenceNumber: '3', streamSid: SID, media: { track: 'inbound', chunk: '1', timestamp: '5', payload: Buffer.alloc(160, 0xff).toString('base64') } },
  { event: 'dtmf', streamSid: SID, sequenceNumber: '5', dtmf: { track: 'inbound_track', digit: '1' } },
  { event: 'mark', sequenceNumber: '4', streamSid: SID, mark: { name: 'my label' } },
  { event: 'stop', sequenceNumber: '5', streamSid: SID, stop: { accountSid: 'AC' + '1'.repeat(32), callSid: 'CA' + '2'.repeat(32) } },
];

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
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

function oddValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => -1,
    () => 1e308,
    () => 2 ** 53 + 1,
    () => '',
    () => 'x'.repeat(r.int(10_000)),
    () => '\u0000\ud800',
    () => [],
    () => ({}),
    () => ({ __proto__: { event: 'media' } }),
    () => Array.from({ length: r.int(50) }, () => r.int(256)),
    () => '=' + 'A'.repeat(r.int(5000)),
    () => String(r.int(1e9)),
    () => true,
  ])();
}

/** A copy of a message with one value somewhere in it replaced. */
function swapValue(r: Rng, m: unknown): unknown {
  if (m === null || typeof m !== 'object' || r.next() < 0.2) return oddValue(r);
  const copy: Record<string, unknown> = Array.isArray(m) ? ({ ...m } as Record<string, unknown>) : { ...(m as Record<string, unknown>) };
  const keys = Object.keys(copy);
  if (keys.length === 0 || r.next() < 0.1) copy[r.pick(['extra', 'event', 'streamSid', '__proto__', 'constructor'])] = oddValue(r);
  else {
    const k = r.pick(keys);
    if (r.next() < 0.1) delete copy[k];
    else copy[k] = swapValue(r, copy[k]);
  }
  return copy;
}

function mutateText(r: Rng, s: string): string {
  const b = Buffer.from(s);
  const at = r.int(Math.max(1, b.length));
  switch (r.int(4)) {
    case 0:
      b[at] = r.int(256);
      return b.toString('latin1');
    case 1:
      return s.slice(0, at);
    case 2:
      return s.slice(0, at) + s.slice(at).replace(/[{[]/, '[[[[[[[[[[');
    default:
      return s.slice(0, at) + '"'.repeat(r.int(3)) + s.slice(at);
  }
}

describe('Media Streams parser fuzzing (bounded)', () => {
  it(`every input for ${FUZZ_MS / 1000} s: a typed event or a ProtocolError with its reason, none hanging`, () => {
    const r = rng(SEED);
    const bad: string[] = [];
    let runs = 0;
    let events = 0;
    const end = performance.now() + FUZZ_MS;
    const inputs = [...SEEDS.map((m) => JSON.stringify(m)), '[' .repeat(100_000), '{"event":"media"'.repeat(1000), JSON.stringify({ event: 'media', streamSid: SID, media: { payload: 'A'.repeat(4097) } })];
    while (performance.now() < end || inputs.length > 0) {
      const text = inputs.shift() ?? (r.next() < 0.6 ? JSON.stringify(swapValue(r, r.pick(SEEDS))) ?? 'undefined' : mutateText(r, JSON.stringify(r.pick(SEEDS))));
      runs++;
      const t = performance.now();
      try {
        const ev = parseInbound(text);
        events++;
        if (ev.event === 'media' && !(ev.payload instanceof Uint8Array && ev.payload.length <= 3072)) bad.push(`media payload of ${ev.payload.length} bytes: ${text.slice(0, 200)}`);
        if (ev.event !== 'connected' && !(ev.event === 'start' ? ev.start.streamSid : ev.streamSid).startsWith('MZ')) bad.push(`stream sid: ${text.slice(0, 200)}`);
      } catch (err) {
        if (!(err instanceof ProtocolError) || !REASONS.has(err.reason) || err.message.length < 5) bad.push(`${String(err)}: ${text.slice(0, 200)}`);
      }
      if (performance.now() - t > 500) bad.push(`took ${Math.round(performance.now() - t)} ms: ${text.slice(0, 200)}`);
    }
    expect(bad, `seed ${SEED}, ${runs} inputs`).toEqual([]);
    expect(runs).toBeGreaterThan(1000);
    expect(events).toBeGreaterThan(SEEDS.length); // the seeds, and some mutants, still parse
  });
});
