/**
 * Rate limits for the HTTP port: fixed one-minute windows per client, in separate buckets so
 * that one kind of traffic cannot spend another's allowance (HTTP_RATE_LIMIT_PER_MIN each):
 *
 *   webhooks  Twilio webhooks whose signature checked out (or every webhook without TWILIO_AUTH_TOKEN)
 *   api       ElevenLabs-compatible API requests with a valid key
 *   refused   everything that failed authentication: past the limit it is answered 429 unlogged
 *
 * Authentication comes first, then the count (src/http/guards.ts): unsigned traffic lands in
 * `refused` and never touches the bucket Twilio's signed requests are counted in. A client is
 * its address behind trusted proxies (TRUST_PROXY; an IPv6 client counts by its /64). Created
 * once in the composition root (src/compose.ts) and passed down.
 */
import type { IncomingMessage } from 'node:http';
import { clientKey, TrustProxy } from '../twilio/public-url.js';

const WINDOW_MS = 60_000;
/** Clients remembered per bucket; past it the oldest window is forgotten (bounded memory under address rotation). */
const MAX_CLIENTS = 100_000;

export class RateLimitStore {
  private readonly hits = new Map<string, { windowStart: number; count: number }>();
  private readonly sweep: NodeJS.Timeout;

  constructor(
    readonly perMinute: number,
    private readonly maxClients = MAX_CLIENTS,
  ) {
    this.sweep = setInterval(() => this.forgetOlderThan(Date.now() - WINDOW_MS), WINDOW_MS);
    this.sweep.unref();
  }

  /** Counts one request from `client`: null when allowed, else the seconds until its window resets. */
  take(client: string, now = Date.now()): number | null {
    let h = this.hits.get(client);
    if (!h || now - h.windowStart >= WINDOW_MS) {
      if (!h && this.hits.size >= this.maxClients) {
        this.forgetOlderThan(now - WINDOW_MS);
        if (this.hits.size >= this.maxClients) this.hits.delete(this.hits.keys().next().value!);
      }
      h = { windowStart: now, count: 0 };
      this.hits.delete(client); // re-inserted: the map stays in window order
      this.hits.set(client, h);
    }
    if (++h.count <= this.perMinute) return null;
    return Math.max(1, Math.ceil((h.windowStart + WINDOW_MS - now) / 1000));
  }

  get clients(): number {
    return this.hits.size;
  }

  private forgetOlderThan(cutoff: number): void {
    for (const [k, v] of this.hits) if (v.windowStart < cutoff) this.hits.delete(k);
  }

  close(): void {
    clearInterval(this.sweep);
  }
}

/** The port's buckets and how a request is attributed to a client. */
export class HttpLimits {
  readonly webhooks: RateLimitStore;
  readonly api: RateLimitStore;
  readonly refused: RateLimitStore;

  constructor(
    readonly perMinute: number,
    readonly trust: TrustProxy = new TrustProxy(),
  ) {
    this.webhooks = new RateLimitStore(perMinute);
    this.api = new RateLimitStore(perMinute);
    this.refused = new RateLimitStore(perMinute);
  }

  /** The key `req` is counted under: its client address (through trusted proxies). */
  client(req: IncomingMessage): string {
    return clientKey(this.trust.clientAddress(req));
  }

  close(): void {
    this.webhooks.close();
    this.api.close();
    this.refused.close();
  }
}
