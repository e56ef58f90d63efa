/**
 * The Express app: the TwiML voice webhook, health and readiness, metrics, and any extra
 * routers (the ElevenLabs-compatible API, two-party lines). The WebSocket upgrade for
 * /media is handled beside it on the same HTTP server (src/twilio/upgrade.ts).
 */
import express, { type Router, type ErrorRequestHandler } from 'express';
import { VOICE_ID_PATTERN } from '../config/env.js';
import type { VoiceCatalog } from '../voice/converter.js';
import type { Logger } from '../observability/logger.js';
import { lastFour, maskPhone } from '../observability/logger.js';
import { registry } from '../observability/metrics.js';
import { securityHeaders, twilioWebhookGate } from './guards.js';
import { publicBase, toWebSocketBase } from '../twilio/public-url.js';
import type { HttpLimits } from './rate-limit.js';
import { streamPath, type StreamTokens } from '../twilio/stream-tokens.js';
import { connectStream, TwimlTemplate } from './twiml.js';

export const MEDIA_PATH = '/media';
const CALL_SID = /^CA[0-9a-zA-Z]{1,64}$/;

export type { VoiceCatalog };

export interface AppDeps {
  /** Webhook signatures: TWILIO_AUTH_TOKEN and the public URLs they are computed over. */
  twilio: { authToken: string | undefined; publicUrl: string | undefined; instanceUrl: string | undefined };
  log: Logger;
  voices: VoiceCatalog;
  /** The port's rate-limit buckets and TRUST_PROXY (see ./rate-limit.ts). */
  limits: HttpLimits;
  /**
   * /metrics on this port (true when METRICS_PORT is unset): answered to direct loopback
   * clients only, never through a proxy. False: served on its own listener (./metrics-server.ts).
   */
  metricsOnPort?: boolean;
  /** Per-call stream tokens: when given, each hotline stream URL is /media/<token> for its CallSid. */
  streamTokens?: StreamTokens;
  isReady(): boolean;
  /** Mounted at / after the built-in routes (each brings its own auth). */
  routers?: Router[];
}

export function createApp(deps: AppDeps): express.Express {
  const { twilio, log, voices } = deps;
  const inbound = TwimlTemplate.load('inbound', ['stream']);
  const app = express();
  app.disable('x-powered-by');
  // req.ip, req.protocol and req.host follow TRUST_PROXY, as the signature checks do.
  app.set('trust proxy', deps.limits.trust.expressTrust);
  app.use(securityHeaders);
  if (deps.metricsOnPort !== false) {
    app.get('/metrics', (req, res, next) => {
      if (!isDirectLoopback(req)) return next(); // 404: not here for anyone else
      void registry.metrics().then((text) => res.type(registry.contentType).send(text), next);
    });
  }
  // Forwarded headers from a peer that is not a proxy of ours are the client's own words: gone
  // before any route reads them (publicBase, the signature checks, the line's URLs).
  app.use((req, _res, next) => {
    deps.limits.trust.scrub(req);
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    const ready = deps.isReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'draining' });
  });
  app.post('/twiml/inbound', twilioWebhookGate({ ...twilio, limits: deps.limits, log }), (req, res) => {
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
    let path = MEDIA_PATH;
    if (deps.streamTokens) {
      if (!body.CallSid || !CALL_SID.test(body.CallSid)) {
        res.status(400).type('text/plain').send('Bad request: CallSid missing or malformed\n');
        return;
      }
      path = streamPath(MEDIA_PATH, deps.streamTokens.issue(body.CallSid));
    }
    const streamUrl = toWebSocketBase(publicBase(req, twilio.publicUrl)) + path;
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

/** Headers a proxy or tunnel adds: a request carrying any came from further than the loopback peer. */
const PROXY_HEADERS = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded', 'x-real-ip', 'via', 'cf-connecting-ip', 'true-client-ip'];

/** A client on this machine talking to the port itself, not through a proxy or tunnel on it. */
function isDirectLoopback(req: express.Request): boolean {
  const peer = req.socket.remoteAddress ?? '';
  const loopback = peer === '::1' || /^(::ffff:)?127\./i.test(peer);
  return loopback && !PROXY_HEADERS.some((h) => req.headers[h] !== undefined);
}
