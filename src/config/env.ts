/**
 * Configuration: read once from the environment (and .env), validated, frozen.
 * An invalid value stops start-up with a message naming the variable and what it expects.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'], {
      error: 'expected a boolean (true/false, 1/0, yes/no, on/off)',
    })
    .default(def ? 'true' : 'false')
    .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const int = (def: number, min: number, max: number) =>
  z
    .string()
    .default(String(def))
    .transform((v, ctx) => {
      const n = Number(v);
      if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** An integer variable with no default: undefined when unset. */
const optionalInt = (min: number, max: number) =>
  optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}, got "${v}"` });
      return z.NEVER;
    }
    return n;
  });

const url = (schemes: string[]) =>
  z.string().transform((v, ctx) => {
    try {
      const u = new URL(v);
      if (!schemes.includes(u.protocol)) throw new Error();
      return u.toString().replace(/\/+$/, '');
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected an absolute ${schemes.join(' or ')} URL, got "${v}"` });
      return z.NEVER;
    }
  });

/**
 * A public base URL Twilio is given and signs requests over (PUBLIC_URL, INSTANCE_URL):
 * http(s) origin with an optional path prefix, nothing after it.
 */
const baseUrl = z.string().transform((v, ctx) => {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an absolute https:// URL, got "${v}"` });
    return z.NEVER;
  }
  const fail = (why: string) => {
    ctx.addIssue({ code: 'custom', message: `${why}, got "${v}"` });
    return z.NEVER;
  };
  if (u.protocol === 'wss:' || u.protocol === 'ws:') return fail(`expected the https:// form (the stream's ${u.protocol === 'wss:' ? 'wss' : 'ws'}:// URL is derived from it)`);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return fail('expected an absolute https:// (or http://, for local tests) URL');
  if (u.search || v.includes('?')) return fail('expected no query string (Twilio signs the URL it requests; paths are appended to this base)');
  if (u.hash || v.includes('#')) return fail('expected no #fragment');
  if (u.username || u.password) return fail('expected no user:password@ (Twilio signs requests; credentials in the URL are not used)');
  return u.toString().replace(/\/+$/, '');
});

/** A bind address: an IP address or a host name, nothing else (no scheme, port, path or spaces). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const host = z.string().transform((v, ctx) => {
  if (isIP(v) !== 0 || HOST_NAME.test(v)) return v;
  ctx.addIssue({ code: 'custom', message: `expected an IP address (0.0.0.0, ::, 127.0.0.1) or a host name, without scheme, port or spaces, got "${v}"` });
  return z.NEVER;
});

/** Whether a bind address only takes connections from this machine. */
export function isLoopbackHost(h: string): boolean {
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./i.test(h);
}

/**
 * TRUST_PROXY, resolved: which peers are proxies whose X-Forwarded-For/-Host/-Proto are
 * believed (src/http/trust-proxy.ts applies it). `none`: no peer; `all`: every peer; `hops`:
 * the nearest N; `list`: addresses, CIDR ranges and the names loopback, linklocal, uniquelocal.
 */
export type TrustProxySetting = { kind: 'none' } | { kind: 'all' } | { kind: 'hops'; hops: number } | { kind: 'list'; entries: string[] };
export const TRUST_PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'] as const;

const trustProxy = z
  .string()
  .default('false')
  .transform((v, ctx): TrustProxySetting => {
    const t = v.trim();
    if (t === 'false' || t === '0') return { kind: 'none' };
    if (t === 'true') return { kind: 'all' };
    if (/^\d+$/.test(t)) {
      const hops = Number(t);
      if (hops <= 10) return { kind: 'hops', hops };
    }
    const entries = t.split(',').map((e) => e.trim());
    const bad = entries.filter((e) => {
      if ((TRUST_PROXY_NAMES as readonly string[]).includes(e)) return false;
      const [addr = '', prefix, extra] = e.split('/');
      const family = isIP(addr);
      if (family === 0 || extra !== undefined) return true;
      if (prefix === undefined) return false;
      return !/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128);
    });
    if (bad.length === 0 && entries.length > 0) return { kind: 'list', entries };
    ctx.addIssue({
      code: 'custom',
      message: `expected false, true, a hop count (1 to 10), or a comma-separated list of proxy addresses, CIDR ranges and the names ${TRUST_PROXY_NAMES.join(', ')}; got "${v}"${bad.length ? ` (not an address or range: ${bad.map((b) => `"${b}"`).join(', ')})` : ''}`,
    });
    return z.NEVER;
  });

/** A seed as ElevenLabs takes it: an integer from 0 to 4294967295. */
const seed = optionalString.transform((v, ctx) => {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > 4294967295) {
    ctx.addIssue({ code: 'custom', message: 'expected an integer from 0 to 4294967295' });
    return z.NEVER;
  }
  return Number(v);
});

/** ElevenLabs voice ids and local preset ids share this shape. */
/** What a voice id may look like (ElevenLabs ids and the engine's preset names). */
export const VOICE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** An age X25519 recipient: age1 and 58 bech32 characters (the checksum is checked where recordings are set up). */
const AGE_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;

const schema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: host.default('0.0.0.0'),
  PUBLIC_URL: baseUrl.optional(),
  /** Which peers are proxies whose X-Forwarded-For/-Host/-Proto headers are believed (default: none). */
  TRUST_PROXY: trustProxy,
  /** Where /metrics is served: its own listener at METRICS_HOST:METRICS_PORT (unset: the main port, to direct loopback clients only). */
  METRICS_PORT: optionalInt(0, 65535),
  METRICS_HOST: host.default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  TWILIO_AUTH_TOKEN: optionalString,
  /** Serve unsigned Twilio traffic on a non-loopback HOST (development only; a loud warning). */
  ALLOW_UNSIGNED_TWILIO: bool(false),
  TWILIO_ACCOUNT_SID: optionalString.refine((v) => v === undefined || /^AC[0-9a-fA-F]{32}$/.test(v), {
    message: 'expected AC followed by 32 hex digits',
  }),
  TWILIO_API_BASE_URL: url(['https:', 'http:']).optional(),

  CONVERTER: z.enum(['auto', 'elevenlabs', 'local']).default('auto'),
  ELEVENLABS_API_KEY: optionalString,
  ELEVENLABS_BASE_URL: url(['https:', 'http:']).default('https://api.elevenlabs.io'),
  ELEVENLABS_VOICE_ID: z.string().regex(VOICE_ID_PATTERN, 'expected a voice id (letters, digits, _ or -)').default('JBFqnCBsd6RMkjVDRZzb'),
  ELEVENLABS_MODEL_ID: z.string().min(1).default('eleven_multilingual_sts_v2'),
  ELEVENLABS_VOICE_SETTINGS: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(v);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error();
      return JSON.stringify(parsed);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a JSON object, e.g. {"stability":0.5,"similarity_boost":0.75}' });
      return z.NEVER;
    }
  }),
  ELEVENLABS_SEED: seed,
  ELEVENLABS_REMOVE_BACKGROUND_NOISE: bool(false),
  ELEVENLABS_ENABLE_LOGGING: z
    .enum(['true', 'false', ''], { error: 'expected true or false (false = zero retention, enterprise only)' })
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v === 'true')),
  ELEVENLABS_CONNECT_TIMEOUT_MS: int(2000, 100, 60_000),
  ELEVENLABS_FIRST_BYTE_TIMEOUT_MS: int(3000, 100, 60_000),
  ELEVENLABS_IDLE_TIMEOUT_MS: int(1200, 100, 60_000),
  ELEVENLABS_MAX_LAG_MS: int(2000, 0, 60_000),
  ELEVENLABS_MAX_CONCURRENCY: int(3, 1, 100),
  /** Share ELEVENLABS_MAX_CONCURRENCY with every instance on this Redis and ElevenLabs key (unset: this process only). */
  REDIS_URL: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error();
      return v;
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected redis://[user:password@]host:port[/db] or rediss://..., got "${v.replace(/\/\/[^@/]*@/, '//***@')}"` });
      return z.NEVER;
    }
  }),
  /** Longest wait for Redis before a phrase takes a slot from this instance's share. */
  REDIS_TIMEOUT_MS: int(25, 1, 5000),
  /** A slot held by an instance that stopped renewing it is freed after this long. */
  REDIS_LEASE_MS: int(3000, 500, 60_000),
  FALLBACK: z.enum(['local', 'silence']).default('local'),

  LOCAL_VOICE_ID: z.string().regex(VOICE_ID_PATTERN).default('neutral-male'),
  LOCAL_MODE: z.enum(['streaming', 'phrase']).default('streaming'),
  LOCAL_SEED: seed,
  LOCAL_DENOISE: bool(false),
  /** A new formant draw for each phrase within the call's variation (harder to link masked recordings). */
  LOCAL_PHRASE_VARIATION: bool(true),
  // auto: served when LOCAL_API_KEY is set (a public port should never mask for anyone who asks).
  LOCAL_API: z.enum(['auto', 'true', 'false'], { error: 'expected auto, true or false' }).default('auto'),
  // the API masks (and bills CPU) for whoever holds it, on a public port: not guessable
  LOCAL_API_KEY: optionalString.refine((v) => v === undefined || v.length >= 32, {
    message: 'expected at least 32 characters (e.g. `openssl rand -hex 32`): the key guards a public port',
  }),
  LOCAL_API_MAX_SECONDS: int(300, 1, 3600),
  LOCAL_API_MAX_CONCURRENCY: int(4, 1, 64),

  VAD_MODE: int(3, 0, 3),
  VAD_START_MS: int(60, 10, 1000),
  VAD_PREROLL_MS: int(200, 0, 1000),
  VAD_HANGOVER_MS: int(500, 100, 5000),
  VAD_MIN_PHRASE_MS: int(250, 0, 5000),
  /** Longest phrase or chunk sent for conversion: the delay of a long turn's first words is made of it. */
  VAD_MAX_PHRASE_MS: int(2200, 1000, 60_000),
  /** A long turn is cut into chunks at a micro-pause once a chunk holds this much audio (0: off). */
  VAD_CHUNK_MIN_MS: int(1200, 0, 30_000),
  /** Non-speech that counts as a micro-pause inside a turn (must be shorter than VAD_HANGOVER_MS). */
  VAD_CHUNK_PAUSE_MS: int(160, 40, 2000),
  /** Hotline mode: a new turn clears a long backlog only after this much silence (0: never clears). */
  HOTLINE_TURN_GAP_MS: int(1500, 0, 60_000),

  PLAYOUT_CHUNK_MS: int(20, 20, 100).refine((v) => v % 20 === 0, { message: 'expected a multiple of 20 (20, 40, 60, 80 or 100)' }),
  PLAYOUT_CLEAR_BACKLOG_MS: int(2000, 0, 60_000),
  PLAYOUT_LEAD_MS: int(300, 20, 5000),

  WS_MAX_MESSAGE_BYTES: int(64 * 1024, 1024, 1024 * 1024),
  // Twilio sends 50 media messages a second per stream, plus marks and DTMF: below 100 every call is closed as a flood.
  WS_MAX_MESSAGES_PER_SEC: int(200, 100, 10_000),
  WS_MAX_BUFFERED_BYTES: int(1024 * 1024, 16 * 1024, 64 * 1024 * 1024),
  WS_HEARTBEAT_MS: int(30_000, 1000, 600_000),
  WS_MAX_AUDIO_AHEAD_MS: int(20_000, 1000, 600_000),
  HTTP_RATE_LIMIT_PER_MIN: int(600, 1, 1_000_000),
  /** Open TCP connections on the port (streams included); unset: MAX_CALLS + 500. */
  HTTP_MAX_CONNECTIONS: optionalInt(16, 1_000_000),
  /** How long an idle kept-alive connection is kept: above the idle timeout of the proxies and load balancers in front. */
  HTTP_KEEPALIVE_TIMEOUT_MS: int(75_000, 5_000, 3_600_000),
  DRAIN_TIMEOUT: int(60, 0, 3600),
  MAX_CALLS: int(200, 1, 100_000),

  LINES_CONFIG: optionalString,
  MASK: z.enum(['agent', 'both']).default('agent'),
  AGENT_DIAL_TIMEOUT: int(30, 5, 600),
  /** Outbound agent calls per second (Twilio's default account limit is 1). */
  DIAL_CPS: z.coerce.number({ error: 'expected a number of calls per second' }).min(0.1, 'expected at least 0.1').max(100, 'expected at most 100').default(1),
  /** Reload the lines file when it changes on disk (SIGHUP always reloads it). */
  LINES_WATCH: bool(false),
  AGENT_DTMF_VOICE_CYCLE: bool(false),
  /** This instance's own public base URL when several sit behind a load balancer (two-party streams and agent callbacks go there). */
  INSTANCE_URL: baseUrl.optional(),
  /** Key of the room tokens (random per process when unset). */
  LINE_ROOM_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, { message: 'expected at least 32 characters' }),

  /** Records calls into this folder, encrypted with age (docs/recordings.md); unset: no recordings. */
  RECORDINGS_DIR: optionalString,
  /** age X25519 recipients (age1...) recordings are encrypted to, separated by commas or spaces. */
  RECORDINGS_AGE_RECIPIENTS: optionalString.transform((v, ctx) => {
    if (v === undefined) return undefined;
    const list = v.split(/[\s,]+/).filter(Boolean);
    for (const r of list) {
      if (/^AGE-SECRET-KEY-/i.test(r)) {
        ctx.addIssue({ code: 'custom', message: 'an age secret key was given: the bridge must never hold the key that decrypts recordings; give its public recipient instead (age-keygen -y key.txt prints it)' });
        return z.NEVER;
      }
      if (!AGE_RECIPIENT.test(r)) {
        ctx.addIssue({ code: 'custom', message: `expected age X25519 recipients (age1 followed by 58 characters, as age-keygen -y prints them), separated by commas or spaces; got "${r}"` });
        return z.NEVER;
      }
    }
    return list;
  }),
  /** Recordings older than this many days are deleted by an hourly sweep (0: kept). */
  RECORDINGS_RETENTION_DAYS: int(0, 0, 36_500),
  /** Whether hotline calls are recorded too (with RECORDINGS_DIR). */
  RECORDINGS_HOTLINE: bool(true),
  /** The operator console at /console: its sign-in token (unset: no console, /console answers 404). */
  ADMIN_TOKEN: optionalString.refine((v) => v === undefined || v.length >= 32, { message: 'expected at least 32 characters (e.g. openssl rand -hex 32)' }),
});

export type Config = Readonly<z.output<typeof schema>> & { readonly converter: 'elevenlabs' | 'local' };

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Combinations of valid values that cannot work together: each names both variables and what to set. */
function crossCheck(c: z.output<typeof schema>): string[] {
  const problems: string[] = [];
  if (c.VAD_CHUNK_MIN_MS > 0 && c.VAD_CHUNK_MIN_MS >= c.VAD_MAX_PHRASE_MS) {
    problems.push(`VAD_CHUNK_MIN_MS (${c.VAD_CHUNK_MIN_MS}) must be below VAD_MAX_PHRASE_MS (${c.VAD_MAX_PHRASE_MS}), or 0 to turn micro-pause chunks off`);
  }
  // The segmenter counts 20 ms frames: a phrase must have room for its pre-roll, its onset and one frame more.
  const frames = (ms: number) => Math.ceil(ms / 20);
  if (frames(c.VAD_MAX_PHRASE_MS) <= frames(c.VAD_PREROLL_MS) + Math.max(1, frames(c.VAD_START_MS)) + 1) {
    problems.push(
      `VAD_MAX_PHRASE_MS (${c.VAD_MAX_PHRASE_MS}) must exceed VAD_PREROLL_MS + VAD_START_MS + 20 ms (${c.VAD_PREROLL_MS} + ${c.VAD_START_MS} + 20): a phrase holds its pre-roll and its onset`,
    );
  }
  if (c.VAD_MIN_PHRASE_MS >= c.VAD_MAX_PHRASE_MS) {
    problems.push(`VAD_MIN_PHRASE_MS (${c.VAD_MIN_PHRASE_MS}) must be below VAD_MAX_PHRASE_MS (${c.VAD_MAX_PHRASE_MS}): else every phrase cut at the limit is discarded`);
  }
  if (c.LINES_CONFIG && c.HTTP_RATE_LIMIT_PER_MIN < 30) {
    problems.push(
      `HTTP_RATE_LIMIT_PER_MIN (${c.HTTP_RATE_LIMIT_PER_MIN}) is too low for two-party lines (LINES_CONFIG): one call takes about 6 webhooks, and behind a proxy all of Twilio's requests share one bucket; set at least 30 (6 x the calls a minute you expect)`,
    );
  }
  if (c.VAD_CHUNK_MIN_MS > 0 && c.VAD_CHUNK_PAUSE_MS >= c.VAD_HANGOVER_MS) {
    problems.push(`VAD_CHUNK_PAUSE_MS (${c.VAD_CHUNK_PAUSE_MS}) must be shorter than VAD_HANGOVER_MS (${c.VAD_HANGOVER_MS}): a longer pause ends the phrase anyway`);
  }
  if (c.RECORDINGS_DIR && !c.RECORDINGS_AGE_RECIPIENTS?.length) {
    problems.push(
      'RECORDINGS_AGE_RECIPIENTS: required with RECORDINGS_DIR: recordings are encrypted to these age recipients from their first byte (make a key pair away from this machine with age-keygen -o key.txt; age-keygen -y key.txt prints the recipient to set here)',
    );
  }
  if (c.HTTP_MAX_CONNECTIONS !== undefined && c.HTTP_MAX_CONNECTIONS < c.MAX_CALLS + 16) {
    problems.push(
      `HTTP_MAX_CONNECTIONS (${c.HTTP_MAX_CONNECTIONS}) must be at least MAX_CALLS + 16 (${c.MAX_CALLS + 16}): every media stream holds a connection, and webhooks need some beside them`,
    );
  }
  if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) {
    problems.push(`METRICS_PORT (${c.METRICS_PORT}) must differ from PORT: /metrics gets its own listener (leave METRICS_PORT unset to serve it on PORT to loopback clients only)`);
  }
  if (c.PUBLIC_URL && c.INSTANCE_URL) {
    const pub = new URL(c.PUBLIC_URL).protocol;
    const inst = new URL(c.INSTANCE_URL).protocol;
    if (pub !== inst) {
      const [tls, plain] = pub === 'https:' ? ['PUBLIC_URL', 'INSTANCE_URL'] : ['INSTANCE_URL', 'PUBLIC_URL'];
      problems.push(
        `PUBLIC_URL and INSTANCE_URL: ${tls} is https:// but ${plain} is http://; Twilio opens media streams only over wss://, so the streams named by ${plain} cannot connect. Set ${plain} to its https:// address (or both to http:// for local tests only).`,
      );
    }
  }
  return problems;
}

/**
 * What makes a server started with this configuration unsafe on the address it binds to:
 * checked when the server starts (startServer), not by loadConfig, since tools and tests load
 * configurations they never serve. A loopback HOST is exempt: nothing else can reach it.
 */
export function listenProblems(c: Config): string[] {
  if (isLoopbackHost(c.HOST)) return [];
  const problems: string[] = [];
  if (!c.TWILIO_AUTH_TOKEN && !c.ALLOW_UNSIGNED_TWILIO) {
    problems.push(
      `TWILIO_AUTH_TOKEN: required when HOST (${c.HOST}) is not a loopback address: without it no webhook or stream is authenticated, and anyone who reaches the port can open streams and start calls. Set it (and PUBLIC_URL), bind HOST=127.0.0.1, or, on a development machine only, set ALLOW_UNSIGNED_TWILIO=true`,
    );
  }
  if (c.TWILIO_AUTH_TOKEN && !c.PUBLIC_URL) {
    problems.push(
      `PUBLIC_URL: required when TWILIO_AUTH_TOKEN is set and HOST (${c.HOST}) is not a loopback address: signatures are checked against it; taken from each request's Host header instead, a signature Twilio made for another of your hosts would be accepted here`,
    );
  }
  return problems;
}

/** What start-up should warn about: valid, but probably not what the operator meant. */
export function configWarnings(c: Config): string[] {
  const out: string[] = [];
  if (c.TRUST_PROXY.kind === 'all') {
    out.push('TRUST_PROXY=true believes X-Forwarded-For/-Host/-Proto from every peer: only safe when every connection comes through a proxy that overwrites them. Prefer its address or a hop count.');
  }
  if (c.INSTANCE_URL && !c.LINES_CONFIG) {
    out.push('INSTANCE_URL is set but LINES_CONFIG is not: INSTANCE_URL names this instance for two-party lines only (hotline streams use PUBLIC_URL or the request host); it is still accepted as a signed URL.');
  }
  if (c.RECORDINGS_AGE_RECIPIENTS && !c.RECORDINGS_DIR) out.push('RECORDINGS_AGE_RECIPIENTS is set but RECORDINGS_DIR is not: calls are not recorded.');
  if (c.RECORDINGS_RETENTION_DAYS > 0 && !c.RECORDINGS_DIR) out.push('RECORDINGS_RETENTION_DAYS is set but RECORDINGS_DIR is not: there is nothing to sweep.');
  for (const k of ['PUBLIC_URL', 'INSTANCE_URL'] as const) {
    if (c[k]?.startsWith('http://')) out.push(`${k} is http://: Twilio requires wss:// media streams (an https:// ${k}); fine for the simulator and local tests only.`);
  }
  return out;
}

/** Parse and freeze. Throws ConfigError listing every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    // An empty variable counts as unset, as in most .env tooling.
    input[key] = v === '' ? undefined : v;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = result.data;
  const combined = crossCheck(c);
  if (combined.length) throw new ConfigError(combined);
  let converter: 'elevenlabs' | 'local';
  if (c.CONVERTER === 'elevenlabs') {
    if (!c.ELEVENLABS_API_KEY) throw new ConfigError(['ELEVENLABS_API_KEY: required when CONVERTER=elevenlabs']);
    converter = 'elevenlabs';
  } else if (c.CONVERTER === 'local') converter = 'local';
  else converter = c.ELEVENLABS_API_KEY ? 'elevenlabs' : 'local';
  if (c.LOCAL_DENOISE && converter === 'local' && c.LOCAL_MODE === 'streaming') {
    // RNNoise's 10 ms frames and its 48 kHz resampling add 15 ms to the stream's 54 ms delay,
    // past the 60 ms budget: denoising is a phrase-mode feature.
    throw new ConfigError(['LOCAL_DENOISE: RNNoise runs in phrase mode only; set LOCAL_MODE=phrase with it (in streaming mode it would add 15 ms to the 54 ms delay)']);
  }
  return Object.freeze({ ...c, converter });
}
