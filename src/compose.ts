/**
 * The composition root: configuration -> objects -> server. Builds and starts the whole bridge
 * on one HTTP port: the Express app, the Media Streams WebSocket endpoint and the call manager,
 * with the converter the configuration selects, and the two-party lines when LINES_CONFIG is
 * set. Every cross-check between settings that needs built objects (voices against engines)
 * is made here, once. Used by main.ts, the demo, the simulator tests and the whole-call tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import express, { type RequestHandler, type Router } from 'express';
import { createStsRouter } from './api/sts-router.js';
import { localStsEngine } from './api/engine.js';
import { HttpLimits } from './http/rate-limit.js';
import { twilioWebhookGate } from './http/guards.js';
import { startMetricsServer, type MetricsServer } from './http/metrics-server.js';
import { sendStsError, statusError } from './api/sts-request.js';
import { ConfigError, isLoopbackHost, listenProblems, type Config } from './config/env.js';
import { TrustProxy } from './twilio/public-url.js';
import { StreamAdmission, StreamTokens } from './twilio/stream-tokens.js';
import { initResampler } from './audio/resampler.js';
import { createApp, MEDIA_PATH } from './http/app.js';
import { createLogger, type Logger } from './observability/logger.js';
import { attachMediaStreams } from './twilio/upgrade.js';
import { CallManager, type CallRoute } from './session/manager.js';
import { elevenLabsOptions } from './compose/elevenlabs-options.js';
import { lineSettings } from './compose/line-settings.js';
import { resolveMaskingProfile } from './compose/masking-profile.js';
import { checkVoices, configuredVoiceRefs, createVoiceCheck, type VoiceCheck } from './compose/voice-check.js';
import type { MaskingProfile } from './pipeline/profile.js';
import { initVad } from './pipeline/vad/index.js';
import { FallbackVoices, initLocalEngine, isLocalVoice, LocalEngine, LOCAL_VOICES } from './voice/local/index.js';
import { createElevenLabsConverter } from './voice/elevenlabs/index.js';
import { createResilientConverter, type ResilientConverter } from './voice/resilience/index.js';
import { createLimiter, poolName } from './fleet/limiter.js';
import { metrics } from './observability/metrics.js';
import type { PhraseConverter } from './voice/converter.js';
import { lineExtension, loadLinesFile, type LinesConfig } from './session/line/index.js';
import { MemoryPresence } from './session/line/presence-memory.js';
import type { PresenceStore } from './session/line/presence.js';
import { RedisPresence } from './fleet/presence-redis.js';
import { RedisPacer } from './fleet/redis-pacer.js';
import { Recordings, type CallRecorder } from './recording/index.js';
import { createConsole, isLineService } from './console/index.js';

export interface RunningServer {
  /** http://host:port the server listens on (loopback address when bound to 0.0.0.0). */
  url: string;
  port: number;
  server: http.Server;
  calls: CallManager;
  profile: MaskingProfile;
  local: LocalEngine;
  /** Reads the lines file again (SIGHUP): undefined without contact lines. */
  reloadLines(): Promise<{ ok: boolean; problems: string[]; warnings: string[] } | undefined>;
  /** The call recordings (RECORDINGS_DIR), when on. */
  recordings: Recordings | undefined;
  /** Where /metrics is served: its own listener (METRICS_PORT), else `${url}/metrics` to loopback clients. */
  metricsUrl: string;
  /** Per-call stream tokens (hotline stream URLs; two-party lines may use them too). */
  streamTokens: StreamTokens;
  /** Stop taking calls, let active ones finish (up to drainMs), then close. */
  shutdown(drainMs?: number): Promise<{ remaining: number }>;
  /** Immediate close (tests). */
  close(): Promise<void>;
}

/** What a call type plugged into the server (two-party lines) is given. */
export interface ExtensionContext {
  log: Logger;
  profile: MaskingProfile;
  calls: CallManager;
  rateLimit: RequestHandler;
  /** Starts a call's recording (RECORDINGS_DIR); undefined: recordings are off. */
  recordings?: CallRecorder | undefined;
  /** Per-call stream tokens: every stream URL handed to Twilio is bound to one call. */
  streamTokens?: StreamTokens | undefined;
}

export interface ServerExtras {
  logger?: Logger;
  /**
   * Extra routers and stream routes (two-party lines; tests plug in call types the same way).
   * `rateLimit` in the context is the webhook gate: it parses the form, authenticates it
   * (X-Twilio-Signature), and only then counts it.
   */
  extend?: (ctx: ExtensionContext) => Extension | Promise<Extension>;
}

/** What a plugged-in call type brings: HTTP routes, stream routes, and what the server drives. */
export interface Extension {
  routers?: Router[];
  routes?: Record<string, CallRoute>;
  reload?: () => Promise<{ ok: boolean; problems: string[]; warnings: string[] }>;
  close?: () => Promise<void>;
}

/** The embedded engine behind an ElevenLabs-compatible speech-to-speech API (/v1/...). */
function compatApi(config: Config, log: Logger, limits: HttpLimits, local: LocalEngine): Router {
  const key = config.LOCAL_API_KEY;
  if (!key) log.warn('LOCAL_API=true without LOCAL_API_KEY: the ElevenLabs-compatible API at /v1/speech-to-speech accepts any key');
  const validKey = (k: string | string[] | undefined) => !key || (typeof k === 'string' && safeEqual(k, key));
  const router = express.Router();
  // The key first, then the count: a valid key is counted in the API's own bucket; a missing or
  // wrong one in the `refused` bucket (429 past its limit, else the 401 the API answers), so
  // unauthenticated traffic never spends a client's allowance or the webhooks'.
  router.use((req, res, next) => {
    if (!/^\/v[12]\//.test(req.path)) return next();
    const client = limits.client(req);
    const authentic = validKey(req.headers['xi-api-key']);
    const wait = (authentic ? limits.api : limits.refused).take(client);
    if (wait === null) return next();
    metrics.httpRejected.inc({ reason: authentic ? 'rate-limit' : 'unauthenticated-flood' });
    sendStsError(res, statusError(429, 'system_busy', `Too many requests from this address; retry in ${wait} s`, { 'retry-after': String(wait) }));
  });
  router.use(
    createStsRouter({
      // the calls' engine: the same seed (LOCAL_SEED) and variation (LOCAL_PHRASE_VARIATION) rules
      engine: localStsEngine(local),
      checkKey: key ? (k) => k !== undefined && safeEqual(k, key) : undefined,
      maxInputSeconds: config.LOCAL_API_MAX_SECONDS,
      maxConcurrent: config.LOCAL_API_MAX_CONCURRENCY,
      ...(config.PUBLIC_URL && { publicUrl: config.PUBLIC_URL }),
      log,
    }),
  );
  return router;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Agents' presence and the lines' queues: this process's, or with REDIS_URL the fleet's. */
function presenceStore(config: Config, log: Logger): PresenceStore {
  if (!config.REDIS_URL) return new MemoryPresence();
  return new RedisPresence({ url: config.REDIS_URL, log: log.child({ component: 'presence' }) });
}

export async function startServer(config: Config, extras: ServerExtras = {}): Promise<RunningServer> {
  const log = extras.logger ?? createLogger(config.LOG_LEVEL);
  // Refused before anything starts: unauthenticated traffic on an address others can reach.
  const exposure = listenProblems(config);
  if (exposure.length) throw new ConfigError(exposure);
  await Promise.all([initResampler(), initVad(), initLocalEngine()]);

  if (!isLocalVoice(config.LOCAL_VOICE_ID)) {
    throw new ConfigError([`LOCAL_VOICE_ID: unknown preset "${config.LOCAL_VOICE_ID}"; expected one of ${LOCAL_VOICES.map((v) => v.id).join(', ')}`]);
  }
  const local = new LocalEngine({
    defaultVoiceId: config.LOCAL_VOICE_ID,
    seed: config.LOCAL_SEED,
    denoise: config.LOCAL_DENOISE,
    phraseVariation: config.LOCAL_PHRASE_VARIATION ? 1 : 0,
    log,
  });

  // The lines file is read here (once; the line extension is handed it) so that its voices
  // are checked with the rest before anything starts.
  const settings = lineSettings(config);
  const linesFile = extras.extend ? undefined : config.LINES_CONFIG;
  const lines: LinesConfig | undefined = linesFile ? loadLinesFile(linesFile, { mask: settings.mask, dialTimeoutS: settings.dialTimeoutS }) : undefined;
  // With ElevenLabs, every voice the configuration names must exist for the key: an unknown one
  // refuses the start; no answer is a warning and a check in the background.
  let voiceCheck: VoiceCheck | undefined;
  if (config.converter === 'elevenlabs') {
    voiceCheck = createVoiceCheck(config, log);
    try {
      await checkVoices(voiceCheck.voices, configuredVoiceRefs(config, lines), log, 'start');
    } catch (err) {
      await voiceCheck.close();
      throw err;
    }
  }

  // Each backend masks with its own seed: ElevenLabs with ELEVENLABS_SEED, the embedded engine
  // (also as ElevenLabs' fallback) with LOCAL_SEED.
  let phrase: PhraseConverter = local;
  let resilient: ResilientConverter | undefined;
  if (config.converter === 'elevenlabs') {
    // The fallback masks each phrase with the preset closest to the phrase's own voice.
    const voices = voiceCheck!.voices;
    const fallbackVoices = new FallbackVoices({ labelsOf: (id) => voices.labelsOf(id), defaultPreset: config.LOCAL_VOICE_ID, log });
    const limiter = createLimiter({
      maxConcurrency: config.ELEVENLABS_MAX_CONCURRENCY,
      ...(config.REDIS_URL && { redisUrl: config.REDIS_URL, pool: poolName(config.ELEVENLABS_API_KEY ?? '', config.ELEVENLABS_BASE_URL) }),
      redisTimeoutMs: config.REDIS_TIMEOUT_MS,
      leaseMs: config.REDIS_LEASE_MS,
      log,
    });
    phrase = resilient = createResilientConverter({
      primary: createElevenLabsConverter(elevenLabsOptions(config), log, {
        // ElevenLabs says the account's limit on its answers: the limiter follows it.
        onConcurrency: (c) => {
          if (c.max !== undefined) {
            metrics.accountConcurrency.set({ kind: 'max' }, c.max);
            limiter.learnLimit(c.max);
          }
          if (c.current !== undefined) metrics.accountConcurrency.set({ kind: 'current' }, c.current);
        },
      }),
      limiter,
      fallback: config.FALLBACK === 'local' ? local : undefined,
      fallbackVoice: (id) => fallbackVoices.presetFor(id),
      maxLagMs: config.ELEVENLABS_MAX_LAG_MS,
      maxConcurrency: config.ELEVENLABS_MAX_CONCURRENCY,
      fallbackMode: config.FALLBACK,
      log,
    });
  }
  const profile = resolveMaskingProfile(config, { phrase, local, ...(voiceCheck && { elevenLabsVoices: voiceCheck.voices }) });
  const voices = profile.voices;
  const extend = extras.extend ?? (lines ? lineExtension(settings, { presence: presenceStore(config, log), lines, ...(config.REDIS_URL && { pacer: new RedisPacer({ url: config.REDIS_URL, perSecond: config.DIAL_CPS, log }) }) }) : undefined);
  // ---- the port's edge: who is believed, what is counted, how long anything may take ----
  // Buckets per client (behind TRUST_PROXY's proxies): signed webhooks, keyed API calls and
  // unauthenticated traffic apart, so that none can spend another's allowance.
  const trust = new TrustProxy(config.TRUST_PROXY);
  const limits = new HttpLimits(config.HTTP_RATE_LIMIT_PER_MIN, trust);
  const webhookGate = twilioWebhookGate({ authToken: config.TWILIO_AUTH_TOKEN, publicUrl: config.PUBLIC_URL, instanceUrl: config.INSTANCE_URL, limits, log });
  // Stream URLs bound to one call, keyed from TWILIO_AUTH_TOKEN: every instance behind one
  // balancer has it, so a stream may land on another instance than the webhook that issued it.
  const streamTokens = new StreamTokens(config.TWILIO_AUTH_TOKEN);
  const signed = Boolean(config.TWILIO_AUTH_TOKEN);
  // Checked before anything listens: a bad recipient or folder stops start-up (ConfigError).
  const recordings = config.RECORDINGS_DIR
    ? await Recordings.open({
        dir: config.RECORDINGS_DIR,
        recipients: config.RECORDINGS_AGE_RECIPIENTS ?? [],
        retentionDays: config.RECORDINGS_RETENTION_DAYS,
        hotline: config.RECORDINGS_HOTLINE,
        log,
      })
    : undefined;
  const calls = new CallManager({ maxCalls: config.MAX_CALLS, log, profile, recordings });
  const ext: Extension = (await extend?.({ log, profile, calls, rateLimit: webhookGate, recordings, streamTokens })) ?? {};
  for (const [mode, route] of Object.entries(ext.routes ?? {})) calls.addRoute(mode, route);
  const routers = [...(ext.routers ?? [])];
  if (config.LOCAL_API === 'true' || (config.LOCAL_API === 'auto' && config.LOCAL_API_KEY)) routers.push(compatApi(config, log, limits, local));
  // The operator console (/console) exists only with ADMIN_TOKEN.
  const operatorConsole = config.ADMIN_TOKEN
    ? await createConsole({
        token: config.ADMIN_TOKEN,
        publicUrl: config.PUBLIC_URL,
        calls,
        profile,
        local,
        maxCalls: config.MAX_CALLS,
        lines: isLineService(ext) ? ext : undefined,
        converter: resilient,
        fallback: config.FALLBACK,
        slotLimit: config.ELEVENLABS_MAX_CONCURRENCY,
        redis: Boolean(config.REDIS_URL),
        log,
      })
    : undefined;
  if (operatorConsole) routers.push(operatorConsole.router);
  const metricsOnPort = config.METRICS_PORT === undefined;
  const app = createApp({
    twilio: { authToken: config.TWILIO_AUTH_TOKEN, publicUrl: config.PUBLIC_URL, instanceUrl: config.INSTANCE_URL },
    log,
    voices,
    limits,
    metricsOnPort,
    ...(signed && { streamTokens }),
    isReady: () => !calls.isDraining,
    routers,
  });
  // Headers must arrive within 5 s of a request's first byte and a whole request within 30 s,
  // checked every second. An idle kept-alive connection is kept HTTP_KEEPALIVE_TIMEOUT_MS
  // (75 s): longer than the proxies and balancers in front keep theirs, so they always close
  // first and never send a request into a socket this side is closing. (headersTimeout counts
  // from each request's first byte, not from the end of the last response, so it need not
  // exceed keepAliveTimeout; test/integration/edge.test.ts holds both.)
  const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 5_000, connectionsCheckingInterval: 1_000 }, app);
  server.keepAliveTimeout = config.HTTP_KEEPALIVE_TIMEOUT_MS;
  const maxConnections = config.HTTP_MAX_CONNECTIONS ?? config.MAX_CALLS + 500;
  server.maxConnections = maxConnections;
  let open = 0;
  let lastIdleSweep = 0;
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
    // Near the cap, idle kept-alive connections are the ones to give up (they reconnect).
    if (open > maxConnections * 0.8 && Date.now() - lastIdleSweep > 1000) {
      lastIdleSweep = Date.now();
      server.closeIdleConnections();
    }
  });
  server.on('drop', () => metrics.httpRejected.inc({ reason: 'connection-cap' }));
  const wss = attachMediaStreams(server, {
    authToken: config.TWILIO_AUTH_TOKEN,
    publicUrl: config.PUBLIC_URL,
    instanceUrl: config.INSTANCE_URL,
    maxMessageBytes: config.WS_MAX_MESSAGE_BYTES,
    limits: {
      maxMessagesPerSec: config.WS_MAX_MESSAGES_PER_SEC,
      maxBufferedBytes: config.WS_MAX_BUFFERED_BYTES,
      heartbeatMs: config.WS_HEARTBEAT_MS,
      maxAudioAheadMs: config.WS_MAX_AUDIO_AHEAD_MS,
    },
    log,
    path: MEDIA_PATH,
    admission: () => calls.admission(),
    onConnection: (conn) => calls.accept(conn),
    trust,
    tokens: streamTokens,
    // Every stream URL this bridge hands out carries a token, except two-party rooms' (bound
    // by their room token instead): with signatures on, only those may use the bare path.
    requireToken: signed,
    streamAdmission: new StreamAdmission({ requireToken: signed, tokenlessModes: [] }),
    // Refused handshakes count with the unauthenticated webhooks: a flood of them is not a flood of logs.
    quiet: (req) => limits.refused.take(limits.client(req)) !== null,
  });

  let metricsServer: MetricsServer | undefined;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address === '0.0.0.0' || addr.address === '::' ? '127.0.0.1' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  if (!metricsOnPort) {
    try {
      metricsServer = await startMetricsServer(config.METRICS_PORT!, config.METRICS_HOST);
    } catch (err) {
      server.close();
      throw err;
    }
  }
  if (!signed && config.ALLOW_UNSIGNED_TWILIO && !isLoopbackHost(config.HOST)) {
    log.warn(
      { host: config.HOST },
      '!!! ALLOW_UNSIGNED_TWILIO=true: webhooks and media streams on this address are NOT authenticated; anyone who reaches this port can open streams and start calls. Development machines only. !!!',
    );
  }

  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    operatorConsole?.close();
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await metricsServer?.close();
    // Every call has ended: their recordings get their final chunk and sidecar.
    await recordings?.close();
    await ext.close?.();
    await voiceCheck?.close();
    // The profile's converter wraps `phrase` (or the engine): each backend is closed once.
    if (phrase !== local) await phrase.close();
    await local.close();
    limits.close();
  };
  return {
    url,
    port: addr.port,
    server,
    calls,
    profile,
    local,
    recordings,
    metricsUrl: metricsServer?.url ?? `${url}/metrics`,
    streamTokens,
    async shutdown(drainMs = config.DRAIN_TIMEOUT * 1000) {
      const r = await calls.drain(drainMs);
      await closeAll();
      return r;
    },
    close: closeAll,
    reloadLines: async () => {
      if (!ext.reload) return undefined;
      if (voiceCheck && linesFile) return reloadCheckingVoices(voiceCheck, config, linesFile, settings, log, ext.reload);
      return ext.reload();
    },
  };
}

/**
 * A reload of the lines file whose voices are checked with ElevenLabs first: a voice it does not
 * know keeps the previous file, as any other problem of the file does.
 */
async function reloadCheckingVoices(
  check: VoiceCheck,
  config: Config,
  file: string,
  settings: { mask: 'agent' | 'both'; dialTimeoutS: number },
  log: Logger,
  reload: NonNullable<Extension['reload']>,
): Promise<{ ok: boolean; problems: string[]; warnings: string[] }> {
  let next: LinesConfig;
  try {
    next = loadLinesFile(file, { mask: settings.mask, dialTimeoutS: settings.dialTimeoutS });
  } catch {
    return reload(); // it reports the file's own problems
  }
  const refs = configuredVoiceRefs(config, next);
  try {
    await checkVoices(check.voices, refs, log, 'reload');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    metrics.linesReloads.inc({ result: 'invalid' });
    for (const p of err.problems) log.error(p);
    log.error({ problems: err.problems.length }, 'lines file NOT reloaded: it has problems; the previous one stays in use');
    return { ok: false, problems: err.problems, warnings: [] };
  }
  return reload();
}
