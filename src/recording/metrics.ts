/** The recordings' Prometheus metrics, on the process's one registry (GET /metrics). */
import client from 'prom-client';
import { registry } from '../observability/metrics.js';

export const recordingMetrics = {
  started: new client.Counter({ name: 'voicemask_recordings_started_total', help: 'Call recordings started (file created, encrypted from its first byte)', registers: [registry] }),
  finished: new client.Counter({ name: 'voicemask_recordings_finished_total', help: 'Call recordings finished whole (final chunk sealed, sidecar complete)', registers: [registry] }),
  failed: new client.Counter({
    name: 'voicemask_recordings_failed_total',
    help: 'Call recordings stopped by an error, by reason (no-space, unwritable, backlog, other); the calls went on',
    labelNames: ['reason'],
    registers: [registry],
  }),
  bytes: new client.Counter({ name: 'voicemask_recording_bytes_written_total', help: 'Encrypted bytes written to RECORDINGS_DIR', registers: [registry] }),
  active: new client.Gauge({ name: 'voicemask_recordings_active', help: 'Call recordings being written now', registers: [registry] }),
  deleted: new client.Counter({ name: 'voicemask_recordings_deleted_total', help: 'Recording files deleted by the retention sweep (RECORDINGS_RETENTION_DAYS)', registers: [registry] }),
  truncated: new client.Counter({ name: 'voicemask_recordings_marked_truncated_total', help: 'Sidecars of recordings whose writer died mid-call, marked truncated by the sweep', registers: [registry] }),
};

/** The failure label of a write error. */
export function failureReason(err: unknown): 'no-space' | 'unwritable' | 'backlog' | 'other' {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EFBIG' || code === 'EDQUOT') return 'no-space';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOENT' || code === 'ENOTDIR' || code === 'EEXIST') return 'unwritable';
  if (code === 'EBACKLOG') return 'backlog';
  return 'other';
}
