/**
 * The external base URL of this bridge, as Twilio sees it. Signatures are computed by
 * Twilio over that URL, so they are checked against it too (behind a TLS-terminating proxy
 * the server itself sees plain http).
 */
import type { IncomingMessage } from 'node:http';

/** PUBLIC_URL when set; otherwise X-Forwarded-Proto/-Host, then Host. */
export function publicBase(req: IncomingMessage, configured: string | undefined): string {
  if (configured) return configured.replace(/\/+$/, '');
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim();
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = first(req.headers['x-forwarded-proto']) ?? (encrypted ? 'https' : 'http');
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host ?? 'localhost';
  return `${proto === 'https' || proto === 'wss' ? 'https' : 'http'}://${host}`;
}

/** https -> wss, http -> ws. */
export function toWebSocketBase(httpBase: string): string {
  return httpBase.replace(/^http/, 'ws');
}
