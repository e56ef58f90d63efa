/**
 * Recording faults with the built server as a real process (dist/main.js), a hotline call in
 * real time:
 *   - a full disk: the process runs under a file-size limit (RLIMIT_FSIZE, `ulimit -f`), so the
 *     kernel refuses the recording's first chunk (EFBIG) mid-call, as a full file system would
 *     (ENOSPC): error log, metric, sidecar "failed", and the call goes on to its end;
 *   - a crash: the process is killed (SIGKILL) mid-call; the file decrypts up to its last
 *     complete chunk (age library and `age -d`), and the next start marks the sidecar truncated.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { findLeakedFrames, isAudible, isInformativeFrame, simulateCall, toFrames, type SimulatedCallResult } from '../../tools/sim/index.js';
import { loadClipMulaw } from '../../tools/clips.js';
import type { Sidecar } from '../../src/recording/index.js';
import { AGE_CHUNK_BYTES } from '../../src/recording/index.js';
import { startBridge, waitFor } from '../helpers/harness.js';
import { ageCliDecrypt, decryptPartial, hasAgeCli, makeKey, readRecordedWav } from '../helpers/recordings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/main.js');

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'pipe' });
}, 120_000);

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  /** Log lines (parsed) so far. */
  logs: () => Array<Record<string, unknown> & { seenAt: number }>;
}

/** dist/main.js under bash, so that `ulimit` can limit it first. */
function start(env: Record<string, string>, limitKiB?: number): Proc {
  const cmd = `${limitKiB !== undefined ? `ulimit -f ${limitKiB} && ` : ''}exec "$NODE" "$MAIN"`;
  const child = spawn('bash', ['-c', cmd], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE: process.execPath, MAIN, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const lines: Array<Record<string, unknown> & { seenAt: number }> = [];
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      const text = out + String(d);
      const parts = text.split('\n');
      out = parts.pop()!;
      for (const l of parts) {
        try {
          lines.push({ ...(JSON.parse(l) as Record<string, unknown>), seenAt: Date.now() });
        } catch {
          // not a log line
        }
      }
      const ready = lines.find((l) => typeof l.url === 'string');
      if (ready) resolve(ready.url as string);
    });
    child.stderr!.on('data', (d) => (err += String(d)));
    child.on('exit', () => reject(new Error(`exited before ready:\n${out}${err}`)));
  });
  url.catch(() => {});
  return { child, url, logs: () => lines };
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await exited;
}

const sidecars = (dir: string) =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.json'))
    .map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as Sidecar);

const audio = loadClipMulaw('jfk'); // 11 s

describe('recording faults (the server as a process)', () => {
  it.concurrent('a full disk stops the recording mid-call, logged and counted; the call goes on untouched', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'rec-full-'));
    const key = await makeKey(tmp);
    const dir = path.join(tmp, 'rec');
    // 40 KiB per file: the header fits, the first 64 KiB chunk (8 s of mono audio) does not.
    const p = start({ RECORDINGS_DIR: dir, RECORDINGS_AGE_RECIPIENTS: key.recipient }, 40);
    try {
      const url = await p.url;
      const callStart = Date.now();
      const r = await simulateCall({ url, audio, realtime: true, tailMs: 4000 });
      // Times from the process's own log lines (its clock is this machine's): robust to a busy machine.
      const stopped = await waitFor('the recording to stop', () => p.logs().find((l) => l.msg === 'recording stopped: RECORDINGS_DIR is full or cannot be written (the call goes on, unrecorded from here)'));
      const ended = await waitFor('the call to end', () => p.logs().find((l) => l.msg === 'call ended'));
      expect(stopped).toMatchObject({ reason: 'no-space', err: 'EFBIG' });
      const at = (l: Record<string, unknown>) => Date.parse(l.time as string);
      expect(at(ended) - at(stopped)).toBeGreaterThan(1000); // mid-call
      // The caller kept hearing masked speech after the recording stopped, to the end of the call.
      const failedAt = at(stopped) - callStart;
      const after = r.received.filter((m) => m.atMs > failedAt + 200).flatMap((m) => toFrames(m.payload)).filter((f) => isAudible(f));
      expect(after.length).toBeGreaterThan(25);
      expect(toFrames(r.receivedAudio).filter((f) => isAudible(f)).length).toBeGreaterThan(250); // jfk holds 7.4 s of speech
      expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
      expect(r.closedBy).toBe('simulator');
      // The metric, and a sidecar that says what happened.
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^voicemask_recordings_failed_total\{reason="no-space"\} 1$/m);
      expect(metrics).toMatch(/^voicemask_recordings_finished_total 0$/m);
      const [sc] = await waitFor('the final sidecar', () => {
        const s = sidecars(dir);
        return s.length === 1 && s[0]!.outcome ? s : undefined;
      });
      expect(sc).toMatchObject({ status: 'failed', kind: 'hotline', error: expect.stringMatching(/^EFBIG/), outcome: 'caller hung up' });
      expect(statSync(path.join(dir, sc!.file)).size).toBeLessThanOrEqual(40 * 1024);
      expect(readFileSync(path.join(dir, sc!.file)).subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
    } finally {
      await stop(p);
    }
  });

  it.concurrent('a crash mid-call leaves a truncated file that decrypts to its last complete chunk; the next start marks it truncated', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'rec-crash-'));
    const key = await makeKey(tmp);
    const dir = path.join(tmp, 'rec');
    const p = start({ RECORDINGS_DIR: dir, RECORDINGS_AGE_RECIPIENTS: key.recipient });
    let file = '';
    let heard: SimulatedCallResult | undefined;
    try {
      const url = await p.url;
      const ctl = new AbortController();
      const call = simulateCall({ url, audio, realtime: true, tailMs: 5000, signal: ctl.signal });
      call.catch(() => {});
      // The first chunk on disk (8 s of mono audio), the call still going on: the process dies.
      file = await waitFor(
        'one complete chunk on disk',
        () => {
          const n = readdirSync(dir).find((x) => x.endsWith('.wav.age'));
          return n && statSync(path.join(dir, n)).size >= AGE_CHUNK_BYTES + 16 + 100 ? path.join(dir, n) : undefined;
        },
        30_000,
      );
      p.child.kill('SIGKILL');
      ctl.abort();
      heard = await call.catch(() => undefined);
    } finally {
      await stop(p);
    }
    expect(sidecars(dir)[0]).toMatchObject({ status: 'recording' });
    const { plain, error } = await decryptPartial(file, key.identity);
    expect(error).toBeDefined();
    expect(plain.length).toBeGreaterThanOrEqual(AGE_CHUNK_BYTES);
    expect(plain.length % AGE_CHUNK_BYTES).toBe(0);
    const wav = readRecordedWav(plain);
    expect(wav).toMatchObject({ channels: 1, sampleRate: 8000, formatTag: 7 });
    // What the caller heard up to the crash is in it (as far as the complete chunks go).
    const recordedMs = wav.channel[0]!.length / 8;
    const before = heard!.received.filter((m) => m.atMs < recordedMs - 1000).map((m) => m.payload).filter(isInformativeFrame);
    expect(before.length).toBeGreaterThan(0);
    expect(findLeakedFrames(before, wav.channel[0]!)).toBeGreaterThanOrEqual(before.length * 0.95);
    expect(findLeakedFrames(heard!.sentFrames, wav.channel[0]!)).toBe(0);
    if (hasAgeCli) {
      const r = ageCliDecrypt(file, key.keyFile);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/unexpected EOF|failed to decrypt/);
      expect(Buffer.compare(r.out, Buffer.from(plain))).toBe(0);
    }
    // The next start sweeps: the dead writer's sidecar now says truncated.
    const b = await startBridge({ RECORDINGS_DIR: dir, RECORDINGS_AGE_RECIPIENTS: key.recipient });
    try {
      expect(sidecars(dir)[0]).toMatchObject({ status: 'truncated', bytes: statSync(file).size, note: expect.stringMatching(/age -d/) });
      expect(b.logs.some((l) => l.msg === 'recording left unfinished by a writer that stopped: sidecar marked truncated')).toBe(true);
    } finally {
      await b.close();
    }
  });
});
