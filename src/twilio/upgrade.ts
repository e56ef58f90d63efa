/**
 * The Media Streams endpoint on the HTTP port: authenticate the upgrade (X-Twilio-Signature
 * over the public wss:// URL) before any WebSocket exists, so an unsigned peer costs no socket,
 * then hand the socket to the call layer. Refusals answer a plain HTTP status and open nothing.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { signatureBases, toWebSocketBase } from './public-url.js';
import { isValidUpgradeSignature } from './signature.js';
import { MediaStreamConnection, type StreamLimits } from './connection.js';

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
}

export function attachMediaStreams(server: Server, deps: UpgradeDeps): WebSocketServer {
  const { log } = deps;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: deps.maxMessageBytes,
    perMessageDeflate: false,
    clientTracking: true,
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: number, reason: string, text: string) => {
      metrics.wsRejected.inc({ reason });
      log.warn({ status, reason, path: req.url?.split('?')[0] }, `websocket upgrade refused: ${text}`);
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
    };
    socket.on('error', () => socket.destroy());
    const path = (req.url ?? '/').split('?')[0];
    if (path !== deps.path) return refuse(404, 'not-found', 'Not Found');
    const token = deps.authToken;
    if (token) {
      // Hotline streams name the public base, two-party streams INSTANCE_URL: either may be signed.
      const raw = req.headers['x-twilio-signature'];
      const sig = Array.isArray(raw) ? raw[0] : raw;
      const bases = signatureBases(req, { publicUrl: deps.publicUrl, instanceUrl: deps.instanceUrl });
      if (!bases.some((b) => isValidUpgradeSignature(token, sig, toWebSocketBase(b) + path))) {
        log.debug({ checked: bases.map((b) => toWebSocketBase(b) + path), hasSignature: Boolean(sig) }, 'upgrade signature matches none of the public URLs');
        return refuse(403, 'bad-signature', 'Forbidden');
      }
    }
    const denied = deps.admission();
    if (denied) return refuse(denied.status, denied.reason, denied.status === 503 ? 'Service Unavailable' : 'Refused');
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new MediaStreamConnection(ws, deps.limits, log);
      deps.onConnection(conn, req);
    });
  });
  return wss;
}
