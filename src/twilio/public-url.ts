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

/** The public addresses this instance is configured with. */
export interface PublicUrls {
  /** PUBLIC_URL: the address Twilio is given for the number's webhook and hotline streams. */
  publicUrl?: string;
  /** INSTANCE_URL: this instance's own address (two-party streams and agent webhooks). */
  instanceUrl?: string;
}

/**
 * Every base URL a request to this instance may have been signed over: the public base
 * (PUBLIC_URL, or the request's host when unset) and INSTANCE_URL. Twilio signs the URL it
 * requested, and a WebSocket upgrade cannot say which of the Stream urls we handed out it
 * came for (hotline streams name the public base, two-party streams this instance), so a
 * signature valid for either is accepted: both are ours.
 */
export function signatureBases(req: IncomingMessage, urls: PublicUrls): string[] {
  const bases = [publicBase(req, urls.publicUrl)];
  const inst = urls.instanceUrl?.replace(/\/+$/, '');
  if (inst && !bases.includes(inst)) bases.push(inst);
  return bases;
}

/** https -> wss, http -> ws. */
export function toWebSocketBase(httpBase: string): string {
  return httpBase.replace(/^http/, 'ws');
}
