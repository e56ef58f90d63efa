/**
 * One rate-limit store for the whole HTTP port: a fixed one-minute window per client address,
 * shared by every route that mounts its middleware (the hotline and line webhooks, the
 * ElevenLabs-compatible API), so a client has one bucket however many routes it calls.
 * Created once in the composition root (src/compose.ts) and passed down.
 */
import type { RequestHandler } from 'express';
import { metrics } from '../observability/metrics.js';

const WINDOW_MS = 60_000;

export class RateLimitStore {
  private readonly hits = new Map<string, { windowStart: number; count: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(readonly perMinute: number) {
    this.sweep = setInterval(() => {
      const cutoff = Date.now() - WINDOW_MS;
      for (const [k, v] of this.hits) if (v.windowStart < cutoff) this.hits.delete(k);
    }, WINDOW_MS);
    this.sweep.unref();
  }

  /** Counts one request from `client`: null when allowed, else the seconds until its window resets. */
  take(client: string, now = Date.now()): number | null {
    let h = this.hits.get(client);
    if (!h || now - h.windowStart >= WINDOW_MS) {
      h = { windowStart: now, count: 0 };
      this.hits.set(client, h);
    }
    if (++h.count <= this.perMinute) return null;
    return Math.ceil((h.windowStart + WINDOW_MS - now) / 1000);
  }

  /** The middleware: 429 with Retry-After once a client is over the limit. Every use counts in this store. */
  readonly middleware: RequestHandler = (req, res, next) => {
    const retryAfterS = this.take(req.socket.remoteAddress ?? 'unknown');
    if (retryAfterS === null) return next();
    metrics.httpRejected.inc({ reason: 'rate-limit' });
    res.setHeader('Retry-After', String(retryAfterS));
    res.status(429).type('text/plain').send('Too many requests\n');
  };

  close(): void {
    clearInterval(this.sweep);
  }
}
