/** Small Express middlewares: security headers, a per-client rate limit, the Twilio signature guard. */
import express, { type RequestHandler } from 'express';
import type { Config } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { signatureBases } from './public-url.js';
import { isValidWebhookSignature } from './signature.js';

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/** Fixed one-minute window per client address; answers 429 with Retry-After. */
export function rateLimit(perMinute: number): RequestHandler {
  const hits = new Map<string, { windowStart: number; count: number }>();
  const sweep = setInterval(() => {
    const cutoff = Date.now() - 60_000;
    for (const [k, v] of hits) if (v.windowStart < cutoff) hits.delete(k);
  }, 60_000);
  sweep.unref();
  return (req, res, next) => {
    const key = req.socket.remoteAddress ?? 'unknown';
    const now = Date.now();
    let h = hits.get(key);
    if (!h || now - h.windowStart >= 60_000) {
      h = { windowStart: now, count: 0 };
      hits.set(key, h);
    }
    if (++h.count > perMinute) {
      metrics.httpRejected.inc({ reason: 'rate-limit' });
      res.setHeader('Retry-After', String(Math.ceil((h.windowStart + 60_000 - now) / 1000)));
      res.status(429).type('text/plain').send('Too many requests\n');
      return;
    }
    next();
  };
}

/**
 * Refuses (403) any webhook without a valid X-Twilio-Signature when an auth token is set.
 * Checked over `publicUrl` (or the request's host when unset) and, when given, `instanceUrl`
 * (this instance's own address, which Twilio may have been given instead).
 */
export function twilioSignatureGuard(authToken: string | undefined, publicUrl: string | undefined, log: Logger, instanceUrl?: string): RequestHandler {
  return (req, res, next) => {
    if (!authToken) return next();
    const sig = req.header('x-twilio-signature');
    const bases = signatureBases(req, { publicUrl, instanceUrl });
    const params = (req.body ?? {}) as Record<string, unknown>;
    if (bases.some((b) => isValidWebhookSignature(authToken, sig, b + req.originalUrl, params))) return next();
    metrics.httpRejected.inc({ reason: 'bad-signature' });
    // The path only: query strings can carry room tokens.
    log.warn({ path: req.path, hasSignature: Boolean(sig), publicBases: bases }, 'webhook refused: missing or invalid X-Twilio-Signature');
    res.status(403).type('text/plain').send('Forbidden: invalid Twilio signature\n');
  };
}

/** Twilio posts small urlencoded forms; anything bigger is refused (413). */
export const webhookBody: RequestHandler = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 });

/**
 * Everything a Twilio webhook route needs, in order: rate limit, body parser, signature.
 * Mount it on the route itself (app.post(path, ...twilioWebhook(...), handler)) so that it
 * never applies to other routes. `publicUrl` is the base Twilio signed (PUBLIC_URL by default).
 */
export function twilioWebhook(config: Config, log: Logger, publicUrl: string | undefined = config.PUBLIC_URL): RequestHandler[] {
  return [rateLimit(config.HTTP_RATE_LIMIT_PER_MIN), webhookBody, twilioSignatureGuard(config.TWILIO_AUTH_TOKEN, publicUrl, log, config.INSTANCE_URL)];
}
