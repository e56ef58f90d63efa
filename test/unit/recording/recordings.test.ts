import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/env.js';
import { createLogger } from '../../../src/observability/logger.js';
import { registry } from '../../../src/observability/metrics.js';
import { Recordings, type RecordedSession, type Sidecar, type Tappable } from '../../../src/recording/index.js';
import { decryptFile, makeKey, readRecordedWav } from '../../helpers/recordings.js';

function capture() {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      for (const l of String(chunk).split('\n')) if (l) logs.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logs, log: createLogger('debug', sink) };
}

function fakeSession(id = 'CAtest'): RecordedSession & { close(reason: string): void } {
  const closers: Array<(r: string) => void> = [];
  const { log } = capture();
  return { id, log, onClose: (fn) => void closers.push(fn), close: (r) => closers.splice(0).forEach((fn) => fn(r)) };
}

async function failedCount(reason: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'voicemask_recordings_failed_total');
  return m?.values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

const line = { number: '+15005550100', mask: 'agent' as const, notice: 'Recorded.' };

async function setUp(o: { hotline?: boolean } = {}) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'recs-'));
  const key = await makeKey(tmp);
  const dir = path.join(tmp, 'rec');
  const { logs, log } = capture();
  const recs = await Recordings.open({ dir, recipients: [key.recipient], retentionDays: 0, hotline: o.hotline ?? true, log });
  return { dir, key, recs, logs };
}

describe('Recordings', () => {
  it('refuses to open with a bad recipient, naming the variable', async () => {
    const { log } = capture();
    const p = Recordings.open({ dir: mkdtempSync(path.join(tmpdir(), 'recs-')), recipients: ['age1' + 'q'.repeat(58)], retentionDays: 0, hotline: true, log });
    await expect(p).rejects.toBeInstanceOf(ConfigError);
    await expect(p).rejects.toThrow(/RECORDINGS_AGE_RECIPIENTS: "age1q+" is not a valid age X25519 recipient/);
  });

  it("a line's record: false, or RECORDINGS_HOTLINE=false, records nothing; a call that never played leaves no file", async () => {
    const { dir, recs } = await setUp({ hotline: false });
    expect(recs.start(fakeSession(), { kind: 'line', line: { ...line, record: false } })).toBeUndefined();
    expect(recs.start(fakeSession(), { kind: 'line', line, record: false })).toBeUndefined();
    expect(recs.start(fakeSession(), { kind: 'hotline', voice: 'neutral-male' })).toBeUndefined();
    const s = fakeSession();
    expect(recs.start(s, { kind: 'line', line, caller: '+15005550006' })).toBeDefined();
    s.close('no-answer');
    await recs.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('hotline: one mono channel of what the caller heard; the sidecar completes with the outcome', async () => {
    const { dir, key, recs } = await setUp();
    const s = fakeSession();
    const out: Tappable = { tap: undefined };
    recs.start(s, { kind: 'hotline', voice: 'deep-male' })!.tap('caller-heard', out);
    const t = performance.now();
    for (let i = 0; i < 10; i++) out.tap!.played(new Uint8Array(160).fill(0x10 + i), t + 20 * i);
    await new Promise((r) => setTimeout(r, 450));
    s.close('caller hung up');
    await recs.idle();
    expect(out.tap).toBeUndefined(); // the clock is let go
    const json = readdirSync(dir).find((n) => n.endsWith('.json'))!;
    const sc = JSON.parse(readFileSync(path.join(dir, json), 'utf8')) as Sidecar;
    expect(sc).toMatchObject({ status: 'complete', kind: 'hotline', voice: 'deep-male', outcome: 'caller hung up', audio: { channels: [expect.stringMatching(/caller heard/)] } });
    const wav = readRecordedWav(await decryptFile(path.join(dir, sc.file), key.identity));
    expect(wav.channels).toBe(1);
    for (let i = 0; i < 10; i++) expect(Buffer.from(wav.channel[0]!).includes(Buffer.from(new Uint8Array(160).fill(0x10 + i)))).toBe(true);
  });

  it('an unwritable folder stops the recording with an error log and a metric; the clock is untouched', async () => {
    const { dir, recs } = await setUp();
    rmSync(dir, { recursive: true }); // the folder went away under the bridge
    const before = await failedCount('unwritable');
    const s = fakeSession();
    const errors: string[] = [];
    s.log.error = ((o: unknown, msg?: string) => void errors.push(String(msg ?? o))) as typeof s.log.error;
    const out: Tappable = { tap: undefined };
    recs.start(s, { kind: 'line', line })!.tap('customer-heard', out);
    for (let i = 0; i < 5; i++) out.tap?.played(new Uint8Array(160), performance.now() + 20 * i); // never throws
    await recs.idle();
    expect(out.tap).toBeUndefined();
    expect(await failedCount('unwritable')).toBe(before + 1);
    expect(errors).toEqual([expect.stringMatching(/^recording stopped: RECORDINGS_DIR is full or cannot be written/)]);
    s.close('customer-hung-up');
    await recs.close();
    expect(existsSync(dir)).toBe(false);
  });

  it("the sweep marks truncated a sidecar whose writer died mid-call, and leaves a live writer's alone", async () => {
    const { dir, recs } = await setUp();
    const base = (id: string) => `2026-01-01T00-00-00Z-line-${id}`;
    const sidecar = (id: string, writer: Sidecar['writer']): Sidecar => ({
      version: 1,
      file: `${base(id)}.wav.age`,
      status: 'recording',
      kind: 'line',
      start: new Date().toISOString(),
      audio: { container: 'wav', codec: 'mu-law', sampleRate: 8000, channels: ['a', 'b'] },
      encryption: { format: 'age-encryption.org/v1', recipients: 1, chunkBytes: 65536 },
      writer,
    });
    const dead = sidecar('deadwrtr', { host: hostname(), pid: 2 ** 22 + 12345, instance: 'x' });
    const live = sidecar('livewrtr', { host: 'another-host', pid: 1, instance: 'y' });
    for (const s of [dead, live]) {
      writeFileSync(path.join(dir, s.file), 'age-encryption.org/v1\n...');
      writeFileSync(path.join(dir, s.file.replace('.wav.age', '.json')), JSON.stringify(s));
    }
    expect(await recs.sweep()).toEqual({ deleted: 0, marked: 1 });
    const read = (id: string) => JSON.parse(readFileSync(path.join(dir, `${base(id)}.json`), 'utf8')) as Sidecar;
    expect(read('deadwrtr')).toMatchObject({ status: 'truncated', bytes: 25, note: expect.stringMatching(/age -d/) });
    expect(read('livewrtr').status).toBe('recording');
    await recs.close();
  });
});
