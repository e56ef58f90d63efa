/**
 * The periodic sweep of RECORDINGS_DIR. It touches only files named as this bridge names
 * recordings (RECORDING_FILE), never a recording being written, and:
 *   - marks "truncated" the sidecars still saying "recording" whose writer is gone (a process
 *     that died mid-call): same host and its process is gone, or no byte written for STALE_MS;
 *   - with RECORDINGS_RETENTION_DAYS, deletes recordings (file and sidecar together) whose
 *     newest file is older than that.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../observability/logger.js';
import { recordingMetrics } from './metrics.js';
import { AUDIO_SUFFIX, RECORDING_FILE, readSidecar, SIDECAR_SUFFIX, WRITER, writeSidecar, type Sidecar } from './sidecar.js';

/** A live recording writes a chunk at least every 8.2 s (mono); silence for this long means its writer is gone. */
export const STALE_MS = 120_000;

export interface SweepOptions {
  dir: string;
  /** 0: keep everything. */
  retentionDays: number;
  /** Bases of the recordings this process is writing now. */
  active: ReadonlySet<string>;
  log: Logger;
  nowMs?: number;
}

export interface SweepResult {
  deleted: number;
  marked: number;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function writerGone(s: Sidecar, audioMtimeMs: number, now: number): boolean {
  const w = s.writer;
  if (w?.instance === WRITER.instance) return true; // ours, and not active: it ended without its last update
  if (w && w.host === WRITER.host && typeof w.pid === 'number' && w.pid !== WRITER.pid && processGone(w.pid)) return true;
  return now - audioMtimeMs > STALE_MS;
}

export async function sweepRecordings(o: SweepOptions): Promise<SweepResult> {
  const now = o.nowMs ?? Date.now();
  const groups = new Map<string, string[]>();
  for (const name of await readdir(o.dir)) {
    const m = RECORDING_FILE.exec(name);
    if (!m) continue;
    const list = groups.get(m[1]!) ?? [];
    list.push(name);
    groups.set(m[1]!, list);
  }
  const result: SweepResult = { deleted: 0, marked: 0 };
  const cutoff = o.retentionDays > 0 ? now - o.retentionDays * 86_400_000 : -Infinity;
  for (const [base, names] of groups) {
    if (o.active.has(base)) continue;
    try {
      const mtimes = new Map<string, number>();
      for (const n of names) mtimes.set(n, (await stat(path.join(o.dir, n))).mtimeMs);
      const newest = Math.max(...mtimes.values());
      if (newest < cutoff) {
        for (const n of names) {
          await unlink(path.join(o.dir, n));
          result.deleted++;
          recordingMetrics.deleted.inc();
        }
        o.log.info({ recording: base, files: names.length, ageDays: Math.floor((now - newest) / 86_400_000) }, 'recording deleted: older than RECORDINGS_RETENTION_DAYS');
        continue;
      }
      const sidecarFile = path.join(o.dir, base + SIDECAR_SUFFIX);
      if (!mtimes.has(base + SIDECAR_SUFFIX)) continue;
      const s = await readSidecar(sidecarFile);
      const audioMtime = mtimes.get(base + AUDIO_SUFFIX) ?? mtimes.get(base + SIDECAR_SUFFIX)!;
      if (s?.status !== 'recording' || !writerGone(s, audioMtime, now)) continue;
      const bytes = mtimes.has(base + AUDIO_SUFFIX) ? (await stat(path.join(o.dir, base + AUDIO_SUFFIX))).size : 0;
      await writeSidecar(sidecarFile, {
        ...s,
        status: 'truncated',
        end: new Date(audioMtime).toISOString(),
        bytes,
        note: 'the bridge stopped during this call: the file ends without its final chunk. `age -d` writes out every complete 64 KiB chunk, then reports the end as truncated.',
      });
      result.marked++;
      recordingMetrics.truncated.inc();
      o.log.warn({ recording: base, bytes }, 'recording left unfinished by a writer that stopped: sidecar marked truncated');
    } catch (err) {
      o.log.warn({ recording: base, err: (err as NodeJS.ErrnoException).code ?? (err as Error).message }, 'recording sweep: could not check this recording');
    }
  }
  if (result.deleted > 0 || result.marked > 0) o.log.info({ ...result, retentionDays: o.retentionDays }, 'recordings swept');
  return result;
}
