/**
 * The Media Streams endpoint on the HTTP port: authenticate the upgrade (X-Twilio-Signature
 * over the public wss:// URL) before any WebSocket exists, so an unsigned peer costs no socket,, then hand the
 * socket to the call layer. Refusals answer a plain HTTP status and open nothing.
 *
 * Paths: `/media/<token>` is a stream bound to one call (./stream-tokens.ts: the token is
 * checked and spent here, so a replayed handshake is refused); bare `/media` is for streams
 * that carry their own binding (two-party rooms) and, without signatures, for anything.
 * Forwarded headers of peers that are not trusted proxies are dropped before the signature
 * check (TRUST_PROXY). A started stream that sends no media for `mediaIdleMs` is closed.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { signatureBases, toWebSocketBase, type TrustProxy } from './public-url.js';
import { isValidUpgradeSignature } from './signature.js';
import { MediaStreamConnection, type StreamHandlers, type StreamLimits } from './connection.js';
import type { StreamAdmission, StreamClaims, StreamTokens } from './stream-tokens.js';

/** A started stream that has sent no media for this long is closed (Twilio sends 50 a second). */
export const MEDIA_IDLE_MS = 5000;

export interface UpgradeDeps {
  /** TWILIO_AUTH_TOKEN: without it upgrades are not authenticated. */
  authToken: string | undefined;
  /** The public bases the stream URL may name (PUBLIC_URL, INSTANCE_URL; else the request's host). */
  publicUrl: string | undefined;
  instanceUrl: string | undefined;
  /** Largest inbound WebSocket message (WS_MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  limits: StreamLimits;
  log: Logger;
  path: string;
  /** Null when a new stream may open; otherwise the status and reason to refuse with. */
  admission(): { status: number; reason: string } | null;
  onConnection(conn: MediaStreamConnection, req: IncomingMessage): void;
  /** TRUST_PROXY: whose forwarded headers the signature check may read. */
  trust?: TrustProxy;
  /** Per-call stream tokens (`path/<token>`); unset: only the bare path is served. */
  tokens?: StreamTokens;
  /** With signatures on, refuse the bare path at the door (every stream URL handed out carries a token). */
  requireToken?: boolean;
  /** The policy at `start`: the token's call, one stream per call, what a tokenless stream may be. */
  streamAdmission?: StreamAdmission;
  /** A started stream with no media for this long is closed; 0: never. Default MEDIA_IDLE_MS. */
  mediaIdleMs?: number;
  /** Counts a refusal against its client: true once the client is past its limit (refused, no longer logged). */
  quiet?: (req: IncomingMessage) => boolean;
}

export function attachMediaStreams(server: Server, deps: UpgradeDeps): WebSocketServer {
  const { log } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: true,
  });
  const live = new Map<MediaStreamConnection, { startedAt: number; graceFrom?: number }>();
  const idleMs = deps.mediaIdleMs ?? MEDIA_IDLE_MS;
  if (idleMs > 0) {
    const every = Math.min(1000, idleMs / 2);
    let last = Date.now();
    const sweep = setInterval(() => {
      // A tick far later than due means this process stalled (GC, a loaded machine): media may be
      // waiting unread in the sockets, so nothing is judged idle on this tick.
      const stalled = Date.now() - last > 2 * every;
      last = Date.now();
      // After the I/O of this loop turn: media that arrived meanwhile is read before judging.
      setImmediate(() => closeIdle(live, idleMs, log, stalled));
    }, every);
    sweep.unref();
    wss.on('close', () => clearInterval(sweep));
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, reason: string, text: string) => {
      metrics.wsRejected.inc({ reason });
      if (!deps.quiet?.(req)) log.warn({ status, reason, path: deps.path }, `websocket upgrade refused: ${text}`);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
    };
    socket.on('error', () => socket.destroy());
    deps.trust?.scrub(req);
    const path = (req.url ?? '/').split('?')[0]!;
    const token = path.startsWith(`${deps.path}/`) ? path.slice(deps.path.length + 1) : undefined;
    if (path !== deps.path && (token === undefined || !deps.tokens || token.includes('/'))) return refuse(404, 'not-found', 'Not Found');
    const authToken = deps.authToken;
    if (authToken) {
      // Hotline streams name the public base, two-party streams INSTANCE_URL: either may be signed.
      const raw = req.headers['x-twilio-signature'];
      const sig = Array.isArray(raw) ? raw[0] : raw;
      const bases = signatureBases(req, { publicUrl: deps.publicUrl, instanceUrl: deps.instanceUrl });
      if (!bases.some((b) => isValidUpgradeSignature(authToken, sig, toWebSocketBase(b) + path))) {
        log.debug({ checked: bases.map((b) => toWebSocketBase(b) + deps.path), hasSignature: Boolean(sig) }, 'upgrade signature matches none of the public URLs');
        return refuse(403, 'bad-signature', 'Forbidden');
      }
      if (token === undefined && deps.requireToken) return refuse(403, 'no-stream-token', 'Forbidden');
    }
    const claims: StreamClaims = {};
    if (token !== undefined) {
      const t = deps.tokens!.spend(token);
      if (!t.ok) return refuse(403, `stream-token-${t.reason}`, 'Forbidden');
      claims.callSid = t.callSid;
    }
    const denied = deps.admission();
    if (denied) return refuse(denied.status, denied.reason, denied.status === 503 ? 'Service Unavailable' : 'Refused');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new MediaStreamConnection(ws, deps.limits, log);
      const entry = { startedAt: 0 };
      live.set(conn, entry);
      guardStart(conn, claims, deps.streamAdmission, log, entry, () => live.delete(conn));
      deps.onConnection(conn, req);
    });
  });
  return wss;
}

/**
 * Puts the stream admission policy in front of the call layer's `start` handler: a stream the
 * policy refuses is closed (1008) before any call exists for it.
 */
function guardStart(conn: MediaStreamConnection, claims: StreamClaims, admission: StreamAdmission | undefined, log: Logger, entry: { startedAt: number; graceFrom?: number }, gone: () => void): void {
  const attach = conn.attach.bind(conn);
  conn.attach = (h: StreamHandlers) => {
    let admittedSid: string | undefined;
    attach({
      ...h,
      onStart: (start) => {
        const why = admission?.admit(claims, start);
        if (why) {
          metrics.wsRejected.inc({ reason: 'stream-admission' });
          log.warn({ callSid: start.callSid, streamSid: start.streamSid, why }, `media stream refused at start: ${why}`);
          conn.close(1008, why);
          return;
        }
        admittedSid = start.callSid;
        entry.startedAt = Date.now();
        h.onStart(start);
      },
      onEnd: (reason) => {
        gone();
        if (admittedSid !== undefined) admission?.ended(admittedSid);
        h.onEnd(reason);
      },
    });
  };
}

function closeIdle(live: Map<MediaStreamConnection, { startedAt: number; graceFrom?: number }>, idleMs: number, log: Logger, stalled: boolean): void {
  const now = Date.now();
  for (const [conn, entry] of live) {
    if (!conn.isOpen) {
      live.delete(conn);
      continue;
    }
    if (entry.startedAt === 0) continue; // not started: the start deadline's business
    if (stalled) entry.graceFrom = now; // idle time is counted again from here
    const since = Math.max(entry.startedAt, conn.lastMediaAt, entry.graceFrom ?? 0);
    if (now - since < idleMs) continue;
    live.delete(conn);
    metrics.wsClosed.inc({ reason: 'media-idle' });
    log.warn({ streamSid: conn.streamSid, idleMs: now - since }, 'started stream sends no media: closing');
    conn.close(1008, 'no media');
  }
}
