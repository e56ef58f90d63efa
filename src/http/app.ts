/**
 * The Express app: the TwiML voice webhook, health and readiness, metrics, and any extra
 * routers (the ElevenLabs-compatible API, two-party lines). The WebSocket upgrade for
 * /media is handled beside it on the same HTTP server (src/twilio/upgrade.ts).
 */
import express, { type Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import { VOICE_ID_PATTERN } from '../config/env.js';
import type { VoiceCatalog } from '../voice/converter.js';
import type { Logger } from '../observability/logger.js';
import { lastFour, maskPhone } from '../observability/logger.js';
import { registry } from '../observability/metrics.js';
import { securityHeaders, twilioWebhook } from './guards.js';
import { publicBase, toWebSocketBase } from '../twilio/public-url.js';
import { connectStream, TwimlTemplate } from './twiml.js';

export const MEDIA_PATH = '/media';

export type { VoiceCatalog };

export interface AppDeps {
  /** Webhook signatures: TWILIO_AUTH_TOKEN and the public URLs they are computed over. */
  twilio: { authToken: string | undefined; publicUrl: string | undefined; instanceUrl: string | undefined };
  log: Logger;
  voices: VoiceCatalog;
  /** The port's one rate-limit store (see ./rate-limit.ts). */
  rateLimit: RequestHandler;
  isReady(): boolean;
  /** Mounted at / after the built-in routes (each brings its own auth). */
  routers?: Router[];
}

export function createApp(deps: AppDeps): express.Express {
  const { twilio, log, voices } = deps;
  const inbound = TwimlTemplate.load('inbound', ['stream']);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(securityHeaders);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'draining' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });

  app.post('/twiml/inbound', ...twilioWebhook({ rateLimit: deps.rateLimit, ...twilio, log }), (req, res) => {
    const voiceParam = typeof req.query.voice === 'string' ? req.query.voice : undefined;
    if (req.query.voice !== undefined && (voiceParam === undefined || !VOICE_ID_PATTERN.test(voiceParam) || !voices.isValid(voiceParam))) {
      res.status(400).type('text/plain').send(`Bad request: unknown voice. Use one of: ${voices.describe()}\n`);
      return;
    }
    if (!deps.isReady()) {
      res.status(503).type('text/plain').send('Service is draining: not taking new calls\n');
      return;
    }
    const voice = voiceParam ?? voices.defaultVoiceId;
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    const streamUrl = toWebSocketBase(publicBase(req, twilio.publicUrl)) + MEDIA_PATH;
    log.info({ callSid: body.CallSid, from: maskPhone(body.From), to: maskPhone(body.To), voice }, 'incoming call: answering with a media stream');
    // The caller's last four digits ride along for the operator console (never the whole number).
    const caller = lastFour(body.From);
    const twiml = inbound.render({ voice }, { stream: connectStream(streamUrl, { mode: 'hotline', voice, ...(caller && { caller }) }, 'voice-mask') });
    res.type('text/xml').send(twiml);
  });

  for (const r of deps.routers ?? []) app.use(r);

  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const status = typeof err?.status === 'number' && err.status >= 400 && err.status < 600 ? err.status : 500;
    if (status >= 500) log.error({ err, path: req.path }, 'request failed');
    else log.warn({ path: req.path, status, message: err?.message }, 'request refused');
    if (res.headersSent) return;
    res.status(status).type('text/plain').send(status === 413 ? 'Payload too large\n' : status < 500 ? `Bad request: ${err.message}\n` : 'Internal error\n');
  };
  app.use(onError);
  return app;
}
