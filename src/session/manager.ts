/**
 * Admits media streams, routes each to its call on `start`, and keeps the calls in progress
 * (one CallSession per call) for admission, readiness and draining. MAX_CALLS counts calls: a
 * two-party call is one call, its two streams included. An unexpected error inside one call
 * ends that call only.
 */
import { lastFour, type Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { MediaStreamConnection } from '../twilio/connection.js';
import type { AudioFrame } from '../twilio/media-in.js';
import type { StartInfo } from '../twilio/messages.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import { CallSession, type CallKind } from './call-session.js';
import { HotlineCall } from './hotline.js';
import type { CallRecorder } from '../recording/index.js';

/** What a stream's call does with the stream's events (marks go to the connection's own clock). */
export interface CallLeg {
  onMedia(frame: AudioFrame): void;
  onDtmf(digit: string): void;
  /** The stream ended (stop, socket closed, or the manager's guard). */
  close(): void;
  /** The call this stream joined; without one the manager opens a call for the stream alone. */
  readonly session?: CallSession;
}

/** A call type other than hotline (two-party lines) claims streams by their `mode` parameter. */
export type CallRoute = (conn: MediaStreamConnection, start: StartInfo, log: Logger) => CallLeg | undefined;

export class CallManager {
  private readonly sessions = new Map<string, CallSession>();
  /** Sockets upgraded and not yet started: no call yet, but they hold a place. */
  private unstarted = 0;
  private readonly streams = new Set<MediaStreamConnection>();
  private draining = false;
  private readonly idleWaiters: Array<() => void> = [];

  private readonly routes = new Map<string, CallRoute>();
  private readonly openListeners = new Set<(session: CallSession) => void>();

  constructor(private readonly deps: { maxCalls: number; log: Logger; profile: MaskingProfile; recordings?: CallRecorder | undefined }) {}

  /** Streams whose `mode` parameter names `mode` go to this call type. */
  addRoute(mode: string, route: CallRoute): void {
    if (mode === 'hotline') throw new Error('the hotline route is built in');
    this.routes.set(mode, route);
  }

  /** Calls in progress (a two-party call counts once). */
  get activeCalls(): number {
    return this.sessions.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  private get hasRoutes(): boolean {
    return this.routes.size > 0;
  }

  /**
   * Opens a call, or undefined when MAX_CALLS calls are in progress, the server is draining, or
   * a call with this CallSid is already in progress (a replayed webhook or stream).
   */
  open(id: string, kind: CallKind, log: Logger): CallSession | undefined {
    if (this.draining || this.sessions.size >= this.deps.maxCalls || this.sessions.has(id)) return undefined;
    const session = new CallSession(id, kind, log);
    this.sessions.set(id, session);
    metrics.callsStarted.inc();
    metrics.callsActive.inc();
    session.onClose((reason) => {
      this.sessions.delete(id);
      metrics.callsActive.dec();
      log.info({ reason, kind, durationS: Math.round((performance.now() - session.startedAt) / 100) / 10 }, 'call ended');
      this.settle();
    });
    for (const fn of this.openListeners) {
      try {
        fn(session);
      } catch (err) {
        log.error({ err }, 'call listener failed');
      }
    }
    return session;
  }

  /** The calls in progress, oldest first (a read-only listing: the operator console). */
  snapshot(): CallSession[] {
    return [...this.sessions.values()];
  }

  /** `fn` is called with every call opened from now on (the operator console). Returns an unsubscribe. */
  onOpen(fn: (session: CallSession) => void): () => void {
    this.openListeners.add(fn);
    return () => this.openListeners.delete(fn);
  }

  /** The call in progress with this CallSid. */
  get(id: string): CallSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * Whether a new stream may open. While draining, hotline streams are refused; streams a call
   * in progress still waits for (a line's legs) are admitted past MAX_CALLS, since they join
   * that call rather than start one; their route decides at start.
   */
  admission(): { status: number; reason: string } | null {
    if (this.draining && !this.hasRoutes) return { status: 503, reason: 'draining' };
    let awaited = 0;
    for (const s of this.sessions.values()) if (s.awaitingStream) awaited++;
    if (this.unstarted + this.sessions.size >= this.deps.maxCalls && awaited <= this.unstarted) return { status: 503, reason: 'max-calls' };
    return null;
  }

  accept(conn: MediaStreamConnection): void {
    const { log: rootLog } = this.deps;
    this.streams.add(conn);
    this.unstarted++;
    let started = false;
    let leg: CallLeg | undefined;
    let log = rootLog;
    const guard = (stage: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        metrics.callErrors.inc({ stage });
        log.error({ err, stage }, 'unexpected error in this call: ending it (other calls are unaffected)');
        conn.close(1011, 'internal error');
        try {
          leg?.session?.close('internal error');
        } catch (closeErr) {
          log.error({ err: closeErr }, 'error while closing the failed call');
        }
      }
    };
    conn.attach({
      onStart: (start) =>
        guard('start', () => {
          started = true;
          this.unstarted--;
          log = rootLog.child({ callSid: start.callSid, streamSid: start.streamSid });
          conn.setLogger(log);
          leg = this.route(conn, start, log);
        }),
      onMedia: (frame) => guard('media', () => leg?.onMedia(frame)),
      onDtmf: (digit) => guard('dtmf', () => leg?.onDtmf(digit)),
      onEnd: (reason) => {
        if (!started) this.unstarted--;
        try {
          leg?.close();
        } catch (err) {
          log.error({ err }, 'error while closing a call');
        }
        this.streams.delete(conn);
        log.info({ reason }, 'media stream ended');
        this.settle();
      },
    });
  }

  private route(conn: MediaStreamConnection, start: StartInfo, log: Logger): CallLeg | undefined {
    const { profile } = this.deps;
    const params = start.customParameters;
    const mode = Object.hasOwn(params, 'mode') ? params.mode! : 'hotline';
    const route = this.routes.get(mode);
    if (route) {
      const leg = route(conn, start, log);
      if (!leg) {
        conn.close(1008, 'stream refused');
        return undefined;
      }
      if (leg.session) return leg;
      // A call type without sessions of its own: the stream is its own call.
      const session = this.open(start.callSid, mode, log);
      if (!session) return this.refuseFull(conn, leg, log);
      session.onClose(() => {
        leg.close();
        conn.close(1000, 'call ended');
      });
      return { onMedia: (f) => leg.onMedia(f), onDtmf: (d) => leg.onDtmf(d), close: () => session.close('stream ended'), session };
    }
    if (mode !== 'hotline') {
      log.warn({ mode }, 'unknown stream mode parameter: closing');
      conn.close(1008, 'unknown mode');
      return undefined;
    }
    const session = this.open(start.callSid, 'hotline', log);
    if (!session) return this.refuseFull(conn, undefined, log);
    const requested = Object.hasOwn(params, 'voice') ? params.voice : undefined;
    let voice = profile.voices.defaultVoiceId;
    if (requested && profile.voices.isValid(requested)) voice = requested;
    else if (requested) log.warn({ requested, voice }, 'unknown voice parameter: using the default voice');
    const call = new HotlineCall(conn, voice, { profile, session });
    this.deps.recordings?.start(session, { kind: 'hotline', voice })?.tap('caller-heard', conn.output); // recording: what the caller hears
    session.caller = lastFour(Object.hasOwn(params, 'caller') ? params.caller : undefined);
    session.voice = () => call.direction.voiceId;
    log.info({ engine: profile.engine, masking: profile.mode, voice, mode }, 'media stream started');
    return call;
  }

  private refuseFull(conn: MediaStreamConnection, leg: CallLeg | undefined, log: Logger): undefined {
    leg?.close();
    if (this.draining) {
      log.warn('new stream while draining: closing');
      conn.close(1013, 'server draining');
    } else {
      log.warn({ maxCalls: this.deps.maxCalls }, 'no room for another call, or this call already has its stream: closing');
      conn.close(1013, 'max calls');
    }
    return undefined;
  }

  private settle(): void {
    if (this.sessions.size === 0 && this.streams.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Stops admitting calls; resolves when the calls in progress have ended or the timeout passed. */
  async drain(timeoutMs: number): Promise<{ remaining: number }> {
    this.draining = true;
    if (this.sessions.size > 0 || this.streams.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const remaining = this.sessions.size;
    for (const c of [...this.streams]) c.close(1001, 'server shutting down');
    for (const s of [...this.sessions.values()]) s.close('shutdown');
    return { remaining };
  }
}
