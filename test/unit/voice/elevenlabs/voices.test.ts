/**
 * ElevenLabs voice lookups (GET /v1/voices/{voice_id}) against the fake, and the check of the
 * configured voices: found with labels, unknown naming where, no answer looked up again in the
 * background until ElevenLabs answers.
 */
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../src/observability/logger.js';
import { ConversionError } from '../../../../src/voice/errors.js';
import { ElevenLabsVoices, VoiceLookup, voicePath, type VoiceState } from '../../../../src/voice/elevenlabs/index.js';
import { startFakeElevenLabs, type FakeElevenLabs } from '../../../../tools/fakes/fake-elevenlabs.js';
import { waitFor } from '../../../helpers/harness.js';
import { TEST_KEY } from '../../../helpers/phrases.js';

let fake: FakeElevenLabs;
const closers: Array<() => Promise<void>> = [];
beforeAll(async () => {
  fake = await startFakeElevenLabs({
    voices: ['plain', { voice_id: 'nova', name: 'Nova', category: 'cloned', labels: { gender: 'female', age: 'young', accent: 'american' } }],
  });
});
afterAll(async () => {
  await fake.close();
});
afterEach(async () => {
  fake.setVoiceLookupFaults([]);
  fake.setVoices(['plain', { voice_id: 'nova', name: 'Nova', category: 'cloned', labels: { gender: 'female', age: 'young', accent: 'american' } }]);
  await Promise.all(closers.splice(0).map((c) => c()));
});

const lookup = (o: { key?: string; timeoutMs?: number; baseUrl?: string } = {}) => {
  const l = new VoiceLookup({ apiKey: o.key ?? TEST_KEY, baseUrl: o.baseUrl ?? fake.baseUrl, connectTimeoutMs: 500, timeoutMs: o.timeoutMs ?? 1000 });
  closers.push(() => l.close());
  return l;
};
const failure = async (p: Promise<unknown>): Promise<ConversionError> => {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConversionError);
  return e as ConversionError;
};

function logSink() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger('debug', sink) };
}

describe('VoiceLookup: GET /v1/voices/{voice_id}', () => {
  it('answers the voice with its labels, sending the key', async () => {
    const before = fake.voiceLookups.length;
    const v = await lookup().get('nova');
    expect(v).toEqual({ voiceId: 'nova', name: 'Nova', category: 'cloned', labels: { gender: 'female', age: 'young', accent: 'american' } });
    const rec = fake.voiceLookups[before]!;
    expect(rec.voiceId).toBe('nova');
    expect(rec.headers['xi-api-key']).toBe(TEST_KEY);
    expect(rec.status).toBe(200);
    // Lookups are not conversion requests: the fault plans' indices stay the phrases'.
    expect(fake.requests).toEqual([]);
  });

  it('an unknown id is 404 voice_not_found: refused, not worth asking again', async () => {
    const e = await failure(lookup().get('nope'));
    expect(e.status).toBe(404);
    expect(e.code).toBe('voice_not_found');
    expect(e.policy.label).toBe('refused');
  });

  it('a wrong key is auth; 5xx, a reset and a hang are no answer', async () => {
    expect((await failure(lookup({ key: 'wrong' }).get('plain'))).policy.label).toBe('auth');
    const base = fake.voiceLookups.length;
    fake.setVoiceLookupFaults((i) => [{ type: 'status', status: 503 } as const, { type: 'reset-before-first-byte' } as const, { type: 'hang' } as const][i - base]);
    expect((await failure(lookup().get('plain'))).policy.label).toBe('server');
    expect((await failure(lookup().get('plain'))).policy.retry).toBe('attempts');
    const t0 = Date.now();
    const hung = await failure(lookup({ timeoutMs: 300 }).get('plain'));
    expect(hung.kind).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('keeps a base URL path prefix', () => {
    expect(voicePath('https://proxy.example/eleven/', 'a b')).toBe('/eleven/v1/voices/a%20b');
    expect(voicePath('https://api.elevenlabs.io', 'JBFqnCBsd6RMkjVDRZzb')).toBe('/v1/voices/JBFqnCBsd6RMkjVDRZzb');
  });

  it('the fake lists the account (GET /v1/voices) and, without a voice list, knows every id', async () => {
    const list = (await (await fetch(`${fake.baseUrl}/v1/voices`, { headers: { 'xi-api-key': TEST_KEY } })).json()) as { voices: Array<{ voice_id: string; labels: object }> };
    expect(list.voices.map((v) => v.voice_id)).toEqual(['plain', 'nova']);
    const open = await startFakeElevenLabs();
    closers.push(() => open.close());
    const any = new VoiceLookup({ apiKey: TEST_KEY, baseUrl: open.baseUrl, connectTimeoutMs: 500, timeoutMs: 1000 });
    closers.push(() => any.close());
    expect((await any.get('whatever-id')).name).toBe('whatever-id');
  });
});

describe('ElevenLabsVoices: the configured voices', () => {
  const make = (o: { waitMs?: number } = {}) => {
    const { lines, log } = logSink();
    const l = lookup({ timeoutMs: 400 });
    const counts: Array<Record<VoiceState, number>> = [];
    const v = new ElevenLabsVoices({ lookUp: (id, s) => l.get(id, s), log, waitMs: o.waitMs ?? 800, retry: { firstMs: 50, maxMs: 200 }, onCounts: (c) => counts.push(c) });
    closers.push(() => v.close());
    return { v, lines, counts };
  };

  it('names every reference to an unknown voice; keeps the labels of the others', async () => {
    const { v } = make();
    const r = await v.check([
      { voiceId: 'nova', where: 'ELEVENLABS_VOICE_ID' },
      { voiceId: 'ghost', where: 'LINES_CONFIG f: line "+1": voice' },
      { voiceId: 'ghost', where: 'LINES_CONFIG f: line "+1": agents[0] (agent "alice"): voice' },
    ]);
    expect(r.unchecked).toEqual([]);
    expect(r.unknown).toHaveLength(2);
    expect(r.unknown[0]).toMatch(/^LINES_CONFIG f: line "\+1": voice: ElevenLabs has no voice "ghost".*404 voice_not_found/);
    expect(r.unknown[1]).toMatch(/agent "alice"\): voice: ElevenLabs has no voice "ghost"/);
    expect(v.labelsOf('nova')).toEqual({ gender: 'female', age: 'young', accent: 'american' });
    expect(v.state('nova')).toBe('found');
    expect(v.state('ghost')).toBe('unknown');
  });

  it('no answer: unchecked, then looked up in the background until ElevenLabs answers, and the answer logged', async () => {
    const { v, lines, counts } = make();
    const base = fake.voiceLookups.length;
    // ElevenLabs down for the first four lookups (the check's two and two background ones).
    fake.setVoiceLookupFaults((i) => (i - base < 4 ? { type: 'status', status: 503 } : undefined));
    fake.setVoices(['plain', { voice_id: 'nova', labels: { gender: 'female' } }]);
    const refs = [
      { voiceId: 'nova', where: 'ELEVENLABS_VOICE_ID' },
      { voiceId: 'deleted', where: 'LINES_CONFIG f: line "+1": agents[0] (agent "bob"): voice' },
    ];
    const r = await v.check(refs);
    expect(r.unknown).toEqual([]);
    expect(r.unchecked.map((x) => x.voiceId)).toEqual(['nova', 'deleted']);
    v.use(refs);
    expect(counts.at(-1)).toEqual({ found: 0, unknown: 0, unchecked: 2 });
    await waitFor('the background answers', () => v.state('nova') === 'found' && v.state('deleted') === 'unknown', 5000);
    await v.settled();
    expect(counts.at(-1)).toEqual({ found: 1, unknown: 1, unchecked: 0 });
    expect(v.labelsOf('nova')).toEqual({ gender: 'female' });
    const loud = lines.find((l) => l.level === 50 && /NO voice "deleted"/.test(String(l.msg)));
    expect(loud?.msg).toMatch(/agent "bob"/);
    expect(lines.some((l) => l.msg === 'ElevenLabs voices checked')).toBe(true);
  });

  it('a refused key is a warning, not asked again', async () => {
    const { lines, log } = logSink();
    const l = lookup({ key: 'restricted' });
    const v = new ElevenLabsVoices({ lookUp: (id, s) => l.get(id, s), log, waitMs: 800, retry: { firstMs: 20, maxMs: 20 } });
    closers.push(() => v.close());
    const before = fake.voiceLookups.length;
    const refs = [{ voiceId: 'plain', where: 'ELEVENLABS_VOICE_ID' }];
    expect((await v.check(refs)).unchecked).toHaveLength(1);
    v.use(refs);
    await new Promise((r) => setTimeout(r, 150));
    expect(fake.voiceLookups.length - before).toBe(1);
    expect(lines.some((x) => x.level === 40 && /may not read voices/.test(String(x.msg)))).toBe(true);
  });
});
