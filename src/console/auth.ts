/**
 * The operator console's sign-in: ADMIN_TOKEN in, a session cookie out.
 *
 * - Sessions are stateless, so any instance with the same ADMIN_TOKEN accepts them (a fleet
 *   behind a load balancer): `v1.<expires>.<nonce>.<mac>`, the MAC keyed by a key derived from
 *   the token. Changing ADMIN_TOKEN signs every session out. Signing out revokes the nonce on
 *   this instance and clears the cookie.
 * - The cookie is HttpOnly, SameSite=Strict, Path=/console, and Secure behind https (a request
 *   to PUBLIC_URL's host when it is https://, or a proxy saying X-Forwarded-Proto: https).
 * - Every action (POST) carries the session's CSRF token (derived from its nonce) in
 *   X-CSRF-Token, and a browser's Origin, when sent, must be this host's.
 * - Sign-in attempts are limited per client address (a fixed one-minute window); the token is
 *   compared in constant time.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';

export const COOKIE = 'vm_console';
export const CONSOLE_PATH = '/console';
/** How long a session lasts. */
export const SESSION_MS = 12 * 3600_000;

export interface Session {
  nonce: string;
  expires: number;
  csrf: string;
}

const b64url = (b: Buffer) => b.toString('base64url');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class ConsoleAuth {
  private readonly key: Buffer;
  /** Nonces signed out on this instance, until their session would have expired. */
  private readonly revoked = new Map<string, number>();

  constructor(
    private readonly token: string,
    /**
     * publicHost: PUBLIC_URL's host (a browser's Origin may name it); httpsHost: the same when
     * PUBLIC_URL is https:// (requests to it came through TLS).
     */
    private readonly opts: { publicHost?: string | undefined; httpsHost?: string | undefined; now?: () => number },
  ) {
    this.key = createHmac('sha256', token).update('voice-mask console session v1').digest();
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  private mac(text: string): string {
    return b64url(createHmac('sha256', this.key).update(text).digest()).slice(0, 43);
  }

  /** Whether `given` is the admin token (constant time). */
  checkToken(given: unknown): boolean {
    if (typeof given !== 'string' || given.length === 0 || given.length > 1024) return false;
    // Compare MACs of both (equal length whatever was typed).
    return equal(this.mac(`token:${given}`), this.mac(`token:${this.token}`));
  }

  /** A new session's cookie value. */
  issue(): { value: string; session: Session } {
    const nonce = b64url(randomBytes(18));
    const expires = this.now() + SESSION_MS;
    const body = `v1.${expires}.${nonce}`;
    return { value: `${body}.${this.mac(body)}`, session: { nonce, expires, csrf: this.csrfOf(nonce) } };
  }

  private csrfOf(nonce: string): string {
    return this.mac(`csrf:${nonce}`);
  }

  /** The request's session, or undefined (no cookie, forged, expired or signed out). */
  session(req: Request): Session | undefined {
    const value = readCookie(req.headers.cookie, COOKIE);
    if (!value) return undefined;
    const parts = value.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') return undefined;
    const [, exp, nonce, mac] = parts as [string, string, string, string];
    if (!equal(mac, this.mac(`v1.${exp}.${nonce}`))) return undefined;
    const expires = Number(exp);
    if (!Number.isSafeInteger(expires) || expires <= this.now() || this.revoked.has(nonce)) return undefined;
    return { nonce, expires, csrf: this.csrfOf(nonce) };
  }

  /** Whether the request's CSRF header matches its session, and its Origin (when sent) is this host. */
  checkAction(req: Request, session: Session): boolean {
    const given = req.header('x-csrf-token');
    if (!given || !equal(given, session.csrf)) return false;
    return this.sameOrigin(req);
  }

  /** Whether a browser's Origin (when sent) is this host, or PUBLIC_URL's (a proxy that rewrites Host). */
  sameOrigin(req: Request): boolean {
    return sameOrigin(req, this.opts.publicHost);
  }

  revoke(session: Session): void {
    const now = this.now();
    for (const [n, until] of this.revoked) if (until <= now) this.revoked.delete(n);
    this.revoked.set(session.nonce, session.expires);
  }

  /** Secure when the request came over https: a proxy says so, or it came to PUBLIC_URL's (https) host. */
  private secure(req: Request): boolean {
    if (req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https') return true;
    const host = req.header('x-forwarded-host')?.split(',')[0]?.trim() ?? req.header('host');
    return this.opts.httpsHost !== undefined && host === this.opts.httpsHost;
  }

  setCookie(req: Request, res: Response, value: string): void {
    res.cookie(COOKIE, value, { httpOnly: true, sameSite: 'strict', secure: this.secure(req), path: CONSOLE_PATH, maxAge: SESSION_MS });
  }

  clearCookie(req: Request, res: Response): void {
    res.clearCookie(COOKIE, { httpOnly: true, sameSite: 'strict', secure: this.secure(req), path: CONSOLE_PATH });
  }
}

/** Whether a browser's Origin header (when present) names the host the request came to (or `publicHost`). */
export function sameOrigin(req: Request, publicHost?: string): boolean {
  const origin = req.header('origin');
  if (origin === undefined) return req.header('sec-fetch-site') === undefined || req.header('sec-fetch-site') === 'same-origin';
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    return false;
  }
  const forwarded = req.header('x-forwarded-host')?.split(',')[0]?.trim();
  return host === req.header('host') || (forwarded !== undefined && host === forwarded) || (publicHost !== undefined && host === publicHost);
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * Failed sign-ins per client address and minute: past the limit every attempt is refused
 * (the right token too) until the minute is over. A successful sign-in costs nothing.
 */
export class SignInLimiter {
  private readonly fails = new Map<string, { start: number; count: number }>();

  constructor(
    readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  private window(client: string): { start: number; count: number } | undefined {
    const h = this.fails.get(client);
    if (h && this.now() - h.start >= 60_000) {
      this.fails.delete(client);
      return undefined;
    }
    return h;
  }

  /** Before an attempt: null when it may be made, else the seconds to wait. */
  check(client: string): number | null {
    const h = this.window(client);
    if (!h || h.count < this.perMinute) return null;
    return Math.max(1, Math.ceil((h.start + 60_000 - this.now()) / 1000));
  }

  /** A failed attempt. */
  failed(client: string): void {
    const now = this.now();
    if (this.fails.size > 10_000) for (const [k, v] of this.fails) if (now - v.start >= 60_000) this.fails.delete(k);
    const h = this.window(client);
    if (h) h.count++;
    else this.fails.set(client, { start: now, count: 1 });
  }
}
