/**
 * Media streams bound to one call.
 *
 * Twilio signs a WebSocket upgrade over its URL only, so with one fixed `wss://host/media` the
 * signature of any stream opens every other one, forever. A per-call stream token in the URL's
 * path makes each signed URL unique: the voice webhook issues it for the CallSid it answers
 * (`wss://host/media/<token>`), the upgrade checks it before any socket exists, and it opens
 * one stream only, for a short while (STREAM_TOKEN_TTL_MS): a replayed handshake opens nothing.
 *
 * A token is `<CallSid>.<expiry, base36 s>.<nonce, 48 bits>.<HMAC-SHA256, 128 bits>` (base64url),
 * keyed with a secret derived from TWILIO_AUTH_TOKEN (never the token itself; random without
 * one): it cannot be forged, every instance sharing the auth token accepts it (a balancer may
 * send the stream to another instance than the webhook), each one is different (a second
 * webhook for the same call gets its own), and it names the call it was issued to, so the
 * stream's `start` must be for that call. A token opens one stream per instance: behind a
 * balancer that spreads handshakes, a captured, unused handshake could still reach each other
 * instance once within the TTL.
 *
 * StreamAdmission is the policy at a stream's `start`: the token's call and the start's agree,
 * one stream per CallSid at a time, and (with signatures on) a stream that came without a token
 * may only join a call type that carries its own (two-party rooms). See docs/two-party.md.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long an issued stream token opens a stream: Twilio opens it at once, after any <Say> before it. */
export const STREAM_TOKEN_TTL_MS = 120_000;
/** The path segment a token follows: /media/<token>. */
const CALL_SID = /^CA[0-9a-zA-Z]{1,64}$/;
const TOKEN = /^(CA[0-9a-zA-Z]{1,64})\.([0-9a-z]{1,10})\.([A-Za-z0-9_-]{8})\.([A-Za-z0-9_-]{22})$/;

export type TokenCheck = { ok: true; callSid: string; expiresAt: number } | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'replayed' };

export class StreamTokens {
  private readonly key: Buffer;
  /** Tokens that opened a stream, until they expire (a token opens one stream). */
  private readonly used = new Map<string, number>();

  constructor(
    secret?: string,
    readonly ttlMs = STREAM_TOKEN_TTL_MS,
  ) {
    this.key = secret ? createHmac('sha256', secret).update('voice-mask/stream-token-key/v1').digest() : randomBytes(32);
  }

  /** A token for the stream of `callSid`, valid for ttlMs from `now`. */
  issue(callSid: string, now = Date.now()): string {
    if (!CALL_SID.test(callSid)) throw new RangeError('a stream token needs a CallSid (CA...)');
    const exp = Math.ceil((now + this.ttlMs) / 1000).toString(36);
    const nonce = randomBytes(6).toString('base64url');
    return `${callSid}.${exp}.${nonce}.${this.mac(callSid, exp, nonce)}`;
  }

  /** Checks a token without spending it. */
  check(token: unknown, now = Date.now()): TokenCheck {
    if (typeof token !== 'string' || token.length > 128) return { ok: false, reason: 'malformed' };
    const m = TOKEN.exec(token);
    if (!m) return { ok: false, reason: 'malformed' };
    const [, callSid, exp, nonce, mac] = m as unknown as [string, string, string, string, string];
    const expected = Buffer.from(this.mac(callSid, exp, nonce));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'forged' };
    const expiresAt = parseInt(exp, 36) * 1000;
    if (!(expiresAt > now) || expiresAt > now + this.ttlMs + 1000) return { ok: false, reason: 'expired' };
    if (this.used.has(token)) return { ok: false, reason: 'replayed' };
    return { ok: true, callSid, expiresAt };
  }

  /** Checks a token and spends it: a second use of the same token is `replayed`. */
  spend(token: unknown, now = Date.now()): TokenCheck {
    const r = this.check(token, now);
    if (!r.ok) return r;
    if (this.used.size > 10_000) for (const [t, exp] of this.used) if (exp <= now) this.used.delete(t);
    this.used.set(token as string, r.expiresAt);
    return r;
  }

  private mac(callSid: string, exp: string, nonce: string): string {
    return createHmac('sha256', this.key).update(`voice-mask/stream/v1\n${callSid}\n${exp}\n${nonce}`).digest().subarray(0, 16).toString('base64url');
  }
}

/** The stream path for a call: `/media/<token>`. */
export function streamPath(mediaPath: string, token: string): string {
  return `${mediaPath}/${token}`;
}

/** What the upgrade learnt about a stream before it started. */
export interface StreamClaims {
  /** The call the URL's token was issued to; undefined for a stream without a token. */
  callSid?: string;
}

/** The stream's start as admission needs it. */
export interface StartFacts {
  callSid: string;
  customParameters: Record<string, string>;
}

/**
 * Admission at `start`: returns why a stream is refused, or undefined (and remembers the call
 * until `ended`). `tokenless` decides what a stream with no token may be: with signatures on,
 * only a call type that binds itself to its call (a two-party room's own token).
 */
export class StreamAdmission {
  private readonly live = new Set<string>();

  constructor(private readonly o: { requireToken: boolean; tokenlessModes: readonly string[] }) {}

  admit(claims: StreamClaims, start: StartFacts): string | undefined {
    if (claims.callSid !== undefined && claims.callSid !== start.callSid) return 'stream token issued to another call';
    if (claims.callSid === undefined && this.o.requireToken) {
      const mode = Object.hasOwn(start.customParameters, 'mode') ? start.customParameters.mode : 'hotline';
      if (!this.o.tokenlessModes.includes(mode ?? '')) return 'a stream of this kind needs a stream token';
    }
    if (this.live.has(start.callSid)) return 'this call already has a stream';
    this.live.add(start.callSid);
    return undefined;
  }

  ended(callSid: string): void {
    this.live.delete(callSid);
  }

  get streams(): number {
    return this.live.size;
  }
}
