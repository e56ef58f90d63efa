/**
 * The operator console at /console, served when ADMIN_TOKEN is set (src/compose.ts mounts it;
 * without the token nothing here exists and /console answers 404).
 *
 *   GET  /console                    the console (signed in) or the sign-in page
 *   POST /console/login              the token from the sign-in form: a session cookie (rate-limited)
 *   POST /console/logout             ends the session
 *   GET  /console/assets/<file>      style.css and icon.svg for everyone; app.js signed in only
 *   GET  /favicon.ico                the icon (browsers ask for it)
 *   GET  /console/events             the live state (server-sent events)
 *   GET  /console/api/state          the state once (JSON)
 *   GET  /console/api/voices         the voice lab's presets
 *   POST /console/api/agents/:key/pause   { paused: boolean }: pause or resume an agent
 *   POST /console/api/lines/reload   reads the lines file again: { ok, problems, warnings }
 *   POST /console/api/calls/:id/end  ends a call (both legs of a line call)
 *   POST /console/api/lab?voice=ID   audio in (any common format, 30 s at most): original and masked out
 *
 * Everything but the sign-in page and its stylesheet and icon needs a session; every POST but
 * the sign-in needs the session's CSRF token (X-CSRF-Token) and a same-origin request. Every
 * page and answer carries a strict Content-Security-Policy: scripts, styles, images and
 * connections to this origin only, no inline script or style, no frames.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from '../observability/logger.js';
import { maskPhonesIn } from '../observability/logger.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import type { CallManager } from '../session/manager.js';
import type { LineService } from '../session/line/index.js';
import type { LocalEngine } from '../voice/local/index.js';
import type { ResilientConverter } from '../voice/resilience/index.js';
import { loadConsoleAssets, type Asset } from './assets.js';
import { ConsoleAuth, SignInLimiter, type Session } from './auth.js';
import type { ConsoleFile } from './bundle.js';
import { LabError, LAB_MAX_BYTES, labVoices, VoiceLab } from './lab.js';
import { LiveFeed } from './live.js';
import { ConsoleStateSource } from './state.js';
import type { ReloadView } from './view.js';

export { ConsoleAuth, SignInLimiter } from './auth.js';
export { ConsoleStateSource, FinishedCalls, outcomeOf, label } from './state.js';
export type * from './view.js';

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "media-src 'self' blob:",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Failed sign-ins allowed per client address and minute. */
export const SIGN_IN_PER_MINUTE = 10;

export interface ConsoleOptions {
  /** ADMIN_TOKEN. */
  token: string;
  /** PUBLIC_URL: https:// makes the cookie Secure. */
  publicUrl?: string;
  calls: CallManager;
  profile: MaskingProfile;
  local: LocalEngine;
  maxCalls: number;
  /** The contact lines' service, when LINES_CONFIG is set. */
  lines?: LineService;
  /** The resilient ElevenLabs converter, when ElevenLabs masks. */
  converter?: ResilientConverter;
  fallback?: 'local' | 'silence';
  /** ELEVENLABS_MAX_CONCURRENCY. */
  slotLimit?: number;
  redis: boolean;
  log: Logger;
  /** Failed sign-ins per client and minute (default SIGN_IN_PER_MINUTE). */
  signInPerMinute?: number;
}

export interface OperatorConsole {
  router: Router;
  close(): void;
}

/** Whether an extension is the contact lines' service (what the console reads of lines). */
export function isLineService(ext: unknown): ext is LineService {
  const x = ext as Partial<LineService> | undefined;
  return typeof x?.config === 'function' && x.rooms instanceof Map && typeof x.presence?.snapshot === 'function';
}

const escapeHtml = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&#39;', '"': '&quot;' })[c]!);

export async function createConsole(o: ConsoleOptions): Promise<OperatorConsole> {
  const log = o.log.child({ component: 'console' });
  const assets = await loadConsoleAssets();
  const publicHost = o.publicUrl ? new URL(o.publicUrl).host : undefined;
  const auth = new ConsoleAuth(o.token, { publicHost, httpsHost: o.publicUrl?.startsWith('https://') ? publicHost : undefined });
  const limiter = new SignInLimiter(o.signInPerMinute ?? SIGN_IN_PER_MINUTE);
  const source = new ConsoleStateSource({
    calls: o.calls,
    profile: o.profile,
    maxCalls: o.maxCalls,
    redis: o.redis,
    ...(o.lines && { lines: o.lines }),
    ...(o.converter && { converter: o.converter }),
    ...(o.fallback && { fallback: o.fallback }),
    ...(o.slotLimit !== undefined && { slotLimit: o.slotLimit }),
  });
  const feed = new LiveFeed(() => source.state(), { onFirst: () => source.startSampling(), onLast: () => source.stopSampling() }, log);
  const lab = new VoiceLab(o.local, o.profile);
  const cleanups: Array<() => void> = [];
  cleanups.push(o.calls.onOpen((s) => {
    feed.poke();
    s.onClose(() => feed.poke());
  }));
  if (o.lines) cleanups.push(o.lines.presence.onChange(() => feed.poke()));

  const asset = (name: ConsoleFile): Asset => assets.get(name)!;
  const page = (name: 'index.html' | 'signin.html', values: Record<string, string>) =>
    asset(name).body.toString('utf8').replace(/\{\{(\w+)\}\}/g, (_, k: string) => escapeHtml(values[k] ?? ''));

  const router = express.Router();
  router.use('/console', (_req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    // Same-origin requests keep their Origin (no-referrer would send "Origin: null" with a form's POST).
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Permissions-Policy', 'microphone=(self), camera=(), geolocation=(), payment=()');
    next();
  });

  const sessionOf = (req: Request): Session | undefined => auth.session(req);
  /** Signed-in requests only: 401 JSON otherwise (a browser navigating here is sent to the sign-in page). */
  const signedIn = (req: Request, res: Response, next: NextFunction) => {
    const s = sessionOf(req);
    if (!s) {
      if (req.method === 'GET' && req.header('sec-fetch-mode') === 'navigate') res.redirect(303, '/console');
      else res.status(401).json({ error: 'sign in at /console' });
      return;
    }
    res.locals.session = s;
    next();
  };
  /** Signed-in actions: the session's CSRF token and a same-origin request. */
  const action = (req: Request, res: Response, next: NextFunction) =>
    signedIn(req, res, () => {
      if (!auth.checkAction(req, res.locals.session as Session)) {
        log.warn({ path: req.path }, 'console action refused: missing or wrong CSRF token, or another origin');
        res.status(403).json({ error: 'forbidden: reload the console' });
        return;
      }
      next();
    });

  const sendAsset = (req: Request, res: Response, name: ConsoleFile) => {
    const a = asset(name);
    res.setHeader('Cache-Control', 'private, no-cache');
    res.setHeader('ETag', a.etag);
    if (req.headers['if-none-match'] === a.etag) {
      res.status(304).end();
      return;
    }
    res.type(a.type).send(a.body);
  };

  router.get('/console', (req, res) => {
    const s = sessionOf(req);
    if (s) {
      res.type('html').send(page('index.html', { csrf: s.csrf }));
      return;
    }
    const failed = req.query.signin === 'failed';
    res.type('html').send(page('signin.html', { message: failed ? 'That token is not right. Try again.' : '' }));
  });
  router.get('/console/', (_req, res) => res.redirect(303, '/console'));

  router.post('/console/login', express.urlencoded({ extended: false, limit: '4kb', parameterLimit: 5 }), (req, res) => {
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = limiter.check(client);
    if (wait !== null) {
      log.warn({ client }, 'console sign-in refused: too many attempts');
      res.setHeader('Retry-After', String(wait));
      res.status(429).type('html').send(page('signin.html', { message: `Too many attempts. Wait ${wait} s and try again.` }));
      return;
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!auth.sameOrigin(req)) {
      log.warn({ client }, 'console sign-in refused: posted from another origin');
      res.status(403).type('text/plain').send('Forbidden: sign in from the console page\n');
      return;
    }
    if (!auth.checkToken(body.token)) {
      limiter.failed(client);
      log.warn({ client }, 'console sign-in failed: wrong token');
      res.redirect(303, '/console?signin=failed');
      return;
    }
    const { value } = auth.issue();
    auth.setCookie(req, res, value);
    log.info({ client }, 'console: signed in');
    res.redirect(303, '/console');
  });

  router.post('/console/logout', action, (req, res) => {
    auth.revoke(res.locals.session as Session);
    auth.clearCookie(req, res);
    res.status(204).end();
  });

  // Browsers ask for /favicon.ico on pages without an icon (the JSON answers): the console's icon.
  router.get('/favicon.ico', (req, res) => sendAsset(req, res, 'icon.svg'));
  router.get('/console/assets/style.css', (req, res) => sendAsset(req, res, 'style.css'));
  router.get('/console/assets/icon.svg', (req, res) => sendAsset(req, res, 'icon.svg'));
  router.get('/console/assets/app.js', signedIn, (req, res) => sendAsset(req, res, 'app.js'));

  router.get('/console/events', signedIn, (_req, res) => {
    const s = res.locals.session as Session;
    if (!feed.open(res, s.expires)) res.status(503).json({ error: 'too many console pages open' });
  });

  router.get('/console/api/state', signedIn, async (_req, res) => {
    res.json(await source.state());
  });

  router.get('/console/api/voices', signedIn, (_req, res) => {
    res.json({ voices: labVoices(), default: o.profile.engine === 'local' ? o.profile.voices.defaultVoiceId : labVoices()[0]!.id, engine: lab.engine });
  });

  router.post('/console/api/agents/:key/pause', action, express.json({ limit: '1kb' }), async (req, res) => {
    const id = source.agentOf(String(req.params.key));
    const paused = (req.body as { paused?: unknown } | undefined)?.paused;
    if (!o.lines || id === undefined) {
      res.status(404).json({ error: 'no such agent' });
      return;
    }
    if (typeof paused !== 'boolean') {
      res.status(400).json({ error: 'expected { "paused": true | false }' });
      return;
    }
    await o.lines.presence.setPaused(id, paused);
    log.info({ agent: maskPhonesIn(id), paused }, paused ? 'console: agent paused' : 'console: agent resumed');
    feed.poke(0);
    res.json({ ok: true, paused });
  });

  router.post('/console/api/lines/reload', action, async (_req, res) => {
    if (!o.lines) {
      res.status(404).json({ error: 'no contact lines (LINES_CONFIG is not set)' });
      return;
    }
    const r = await o.lines.reload();
    log.info({ ok: r.ok, problems: r.problems.length }, 'console: lines file reloaded');
    feed.poke(0);
    const view: ReloadView = { ok: r.ok, problems: r.problems.map(maskPhonesIn), warnings: r.warnings.map(maskPhonesIn) };
    res.status(r.ok ? 200 : 422).json(view);
  });

  router.post('/console/api/calls/:id/end', action, (req, res) => {
    const session = o.calls.get(String(req.params.id));
    if (!session) {
      res.status(404).json({ error: 'no such call in progress (it may have ended)' });
      return;
    }
    log.info({ callSid: session.id }, 'console: call ended by an operator');
    session.close('operator');
    feed.poke(0);
    res.json({ ok: true });
  });

  router.post('/console/api/lab', action, express.raw({ type: () => true, limit: LAB_MAX_BYTES }), async (req, res) => {
    const voice = typeof req.query.voice === 'string' ? req.query.voice : '';
    const ctl = new AbortController();
    res.on('close', () => ctl.abort(new Error('client gone')));
    try {
      const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      res.json(await lab.mask(new Uint8Array(body.buffer, body.byteOffset, body.length), voice, ctl.signal));
    } catch (err) {
      if (err instanceof LabError) {
        res.status(err.status).json({ error: err.message });
        return;
      }
      if (ctl.signal.aborted) return;
      log.error({ err }, 'voice lab failed');
      res.status(500).json({ error: 'the voice lab failed' });
    }
  });

  // Anything else under /console: nothing without a session, 404 with one.
  router.use('/console', signedIn, (_req, res) => {
    res.status(404).json({ error: 'not found' });
  });

  return {
    router,
    close() {
      for (const c of cleanups.splice(0)) c();
      feed.close();
      source.close();
    },
  };
}
