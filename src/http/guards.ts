/**
 * Small Express middlewares: security headers, the webhook body parser, the Twilio signature
 * guard, and the webhook gate that puts them in order: authenticate, then count
 * (src/http/rate-limit.ts has the buckets).
 */
import express, { type RequestHandler } from 'express';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { signatureBases } from '../twilio/public-url.js';
import { isValidWebhookSignature, repeatedParameters } from '../twilio/signature.js';
import type { HttpLimits } from './rate-limit.js';

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
  next();
};

/** Whether the request carries a valid X-Twilio-Signature over one of `bases` + its URL and its form. */
function signedByTwilio(req: express.Request, authToken: string, urls: { publicUrl: string | undefined; instanceUrl: string | undefined }): boolean {
  const sig = req.header('x-twilio-signature');
  if (!sig) return false;
  const params = (req.body ?? {}) as Record<string, unknown>;
  return signatureBases(req, urls).some((b) => isValidWebhookSignature(authToken, sig, b + req.originalUrl, params));
}

/**
 * Refuses (403) any webhook without a valid X-Twilio-Signature when an auth token is set.
 * Checked over `publicUrl` (or the request's host when unset) and, when given, `instanceUrl`
 * (this instance's own address, which Twilio may have been given instead). A form that
 * repeats a parameter is refused (400): the handlers read one value per name.
 */
export function twilioSignatureGuard(authToken: string | undefined, publicUrl: string | undefined, log: Logger, instanceUrl?: string): RequestHandler {
  return (req, res, next) => {
    const repeated = repeatedParameters(req.body);
    if (repeated.length) return refuseRepeated(req, res, repeated, log);
    if (!authToken) return next();
    if (signedByTwilio(req, authToken, { publicUrl, instanceUrl })) return next();
    refuseUnsigned(req, res, log, { publicUrl, instanceUrl });
  };
}

function refuseRepeated(req: express.Request, res: express.Response, names: string[], log: Logger): void {
  metrics.httpRejected.inc({ reason: 'repeated-parameter' });
  log.warn({ path: req.path, repeated: names.slice(0, 5) }, 'webhook refused: a form parameter is repeated');
  res.status(400).type('text/plain').send('Bad request: repeated form parameter\n');
}

function refuseUnsigned(req: express.Request, res: express.Response, log: Logger, urls: { publicUrl: string | undefined; instanceUrl: string | undefined }): void {
  metrics.httpRejected.inc({ reason: 'bad-signature' });
  // The path only: query strings can carry room tokens.
  log.warn({ path: req.path, hasSignature: Boolean(req.header('x-twilio-signature')), publicBases: signatureBases(req, urls) }, 'webhook refused: missing or invalid X-Twilio-Signature');
  res.status(403).type('text/plain').send('Forbidden: invalid Twilio signature\n');
}

/** How long a webhook's form may take to arrive once its headers have. */
export const WEBHOOK_BODY_TIMEOUT_MS = 10_000;

/** Twilio posts small urlencoded forms; anything bigger is refused (413). */
export const webhookBody: RequestHandler = express.urlencoded({ extended: false, limit: '32kb', parameterLimit: 200 });

function tooMany(res: express.Response, retryAfterS: number, reason: string): void {
  metrics.httpRejected.inc({ reason });
  res.setHeader('Retry-After', String(retryAfterS));
  res.status(429).type('text/plain').send('Too many requests\n');
}

export interface WebhookGateOptions {
  authToken: string | undefined;
  publicUrl: string | undefined;
  instanceUrl?: string;
  limits: HttpLimits;
  log: Logger;
}

/**
 * A Twilio webhook's door, in this order: parse the form (32 kB; not at all when signatures are
 * on and it carries none), authenticate it (a repeated parameter or a bad signature is refused
 * and counted in the `refused` bucket, answered 429 and no longer logged past its limit), then
 * count it in the `webhooks` bucket. Unsigned
 * traffic therefore never spends the allowance of Twilio's signed requests, from whatever
 * address it comes. Without an auth token every webhook is counted in `webhooks`.
 */
export function twilioWebhookGate(o: WebhookGateOptions): RequestHandler {
  const urls = { publicUrl: o.publicUrl, instanceUrl: o.instanceUrl };
  const { limits, log } = o;
  return (req, res, next) => {
    // With signatures on, a request with no signature cannot be valid: refused before its body is read.
    if (o.authToken && !req.header('x-twilio-signature')) {
      const wait = limits.refused.take(limits.client(req));
      if (wait !== null) return tooMany(res, wait, 'unauthenticated-flood');
      return refuseUnsigned(req, res, log, urls);
    }
    // Twilio's forms are small and sent at once: a body still trickling in after this is an attack.
    req.socket.setTimeout(WEBHOOK_BODY_TIMEOUT_MS);
    webhookBody(req, res, (err?: unknown) => {
      req.socket.setTimeout(0); // the response, then the keep-alive timeout, take over
      if (err) return next(err);
      const client = limits.client(req);
      const repeated = repeatedParameters(req.body);
      const authentic = repeated.length === 0 && (!o.authToken || signedByTwilio(req, o.authToken, urls));
      if (!authentic) {
        const wait = limits.refused.take(client);
        if (wait !== null) return tooMany(res, wait, 'unauthenticated-flood');
        if (repeated.length) return refuseRepeated(req, res, repeated, log);
        return refuseUnsigned(req, res, log, urls);
      }
      const wait = limits.webhooks.take(client);
      if (wait !== null) return tooMany(res, wait, 'rate-limit');
      next();
    });
  };
}
