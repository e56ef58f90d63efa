/** Small Express middlewares: security headers, the webhook body parser, the Twilio signature guard (the rate limit is in ./rate-limit.ts). */
import express, { type RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { signatureBases } from '../twilio/public-url.js';
import { isValidWebhookSignature } from '../twilio/signature.js';

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
};

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
 * Everything a Twilio webhook route needs, in order: the shared rate limit, body parser,
 * signature. Mount it on the route itself (app.post(path, ...twilioWebhook(...), handler)) so
 * that it never applies to other routes. `publicUrl` is the base Twilio signed.
 */
export function twilioWebhook(o: { rateLimit: RequestHandler; authToken: string | undefined; publicUrl: string | undefined; instanceUrl?: string; log: Logger }): RequestHandler[] {
  return [o.rateLimit, webhookBody, twilioSignatureGuard(o.authToken, o.publicUrl, o.log, o.instanceUrl)];
}
