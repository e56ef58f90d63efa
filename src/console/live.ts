/**
 * The console's live feed: server-sent events. Each page holds one stream; the state is taken
 * at once when something happens (a call opened or ended, an agent's presence changed) and
 * every second anyway, and sent when it changed. A stream ends when its session expires, and
 * a client that stops reading is dropped.
 */
import type { Response } from 'express';
import type { Logger } from '../observability/logger.js';
import type { ConsoleState } from './view.js';

/** Most pages at once (per instance). */
export const MAX_STREAMS = 32;
const HEARTBEAT_MS = 15_000;
const TICK_MS = 1000;
/** Events within this much of each other are sent as one state. */
const COALESCE_MS = 100;
/** A client with this much unsent is too slow: dropped. */
const MAX_BACKLOG = 1024 * 1024;

interface Client {
  res: Response;
  expires: number;
  last: string;
}

export class LiveFeed {
  private readonly clients = new Set<Client>();
  private tick: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pending: NodeJS.Timeout | undefined;
  private busy = false;
  private again = false;

  constructor(
    private readonly take: () => Promise<ConsoleState>,
    private readonly hooks: { onFirst(): void; onLast(): void },
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Opens a stream on `res` for a session valid until `expires`; false when full. */
  open(res: Response, expires: number): boolean {
    if (this.clients.size >= MAX_STREAMS) return false;
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.write('retry: 2000\n\n');
    const client: Client = { res, expires, last: '' };
    this.clients.add(client);
    res.on('close', () => this.drop(client));
    if (this.clients.size === 1) this.start();
    this.poke(0);
    return true;
  }

  /** Something changed: send the state soon. */
  poke(delayMs = COALESCE_MS): void {
    if (this.clients.size === 0 || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = undefined;
      void this.send();
    }, delayMs);
    this.pending.unref();
  }

  private start(): void {
    this.hooks.onFirst();
    this.tick = setInterval(() => void this.send(), TICK_MS);
    this.tick.unref();
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) this.write(c, ': ping\n\n');
    }, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stop(): void {
    clearInterval(this.tick);
    clearInterval(this.heartbeat);
    clearTimeout(this.pending);
    this.tick = this.heartbeat = this.pending = undefined;
    this.hooks.onLast();
  }

  private drop(client: Client): void {
    if (!this.clients.delete(client)) return;
    if (!client.res.writableEnded) client.res.end();
    if (this.clients.size === 0) this.stop();
  }

  private write(c: Client, text: string): void {
    if (c.res.writableLength > MAX_BACKLOG) {
      this.log.warn('console stream too slow: dropped');
      c.res.destroy();
      this.drop(c);
      return;
    }
    c.res.write(text);
  }

  private async send(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    try {
      do {
        this.again = false;
        if (this.clients.size === 0) return;
        let state: ConsoleState;
        try {
          state = await this.take();
        } catch (err) {
          this.log.warn({ err: (err as Error).message }, 'console state could not be taken');
          return;
        }
        // Compare without the timestamp: an unchanged state is not sent again.
        const body = JSON.stringify({ ...state, at: 0 });
        const json = JSON.stringify(state);
        const now = Date.now();
        for (const c of [...this.clients]) {
          if (now >= c.expires) {
            this.write(c, 'event: signed-out\ndata: {}\n\n');
            this.drop(c);
            continue;
          }
          if (c.last === body) continue;
          c.last = body;
          this.write(c, `event: state\ndata: ${json}\n\n`);
        }
      } while (this.again);
    } finally {
      this.busy = false;
    }
  }

  close(): void {
    for (const c of [...this.clients]) this.drop(c);
  }
}
