/**
 * Accepts media streams, routes each to its call type on `start`, and tracks active calls
 * for readiness and draining. An unexpected error inside one call ends that call only.
 */
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { MediaStreamConnection } from '../twilio/connection.js';
import type { StartInfo } from '../twilio/messages.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import type { AudioFrame } from '../voice/converter.js';
import { HotlineCall } from './hotline.js';

/** What the manager needs of any call type. */
export interface ActiveCall {
  onMedia(frame: AudioFrame): void;
  onMark(name: string): void;
  onDtmf(digit: string): void;
  close(): void;
}

/** A call type other than hotline (two-party lines) claims streams by their `mode` parameter. */
export type CallRoute = (conn: MediaStreamConnection, start: StartInfo, log: Logger) => ActiveCall | undefined;

export class CallManager {
  private readonly calls = new Set<MediaStreamConnection>();
  private draining = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly deps: { maxCalls: number; log: Logger; profile: MaskingProfile; routes?: Record<string, CallRoute> },
  ) {}

  get activeCalls(): number {
    return this.calls.size;
  }

  private get hasRoutes(): boolean {
    return Object.keys(this.deps.routes ?? {}).length > 0;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Whether a new stream may open. While draining, hotline streams are refused; streams of a
   * call type with routes (two-party rooms) are still admitted, because they join calls already
   * in progress here (an agent answering a room that was dialling); their route decides at start.
   */
  admission(): { status: number; reason: string } | null {
    if (this.draining && !this.hasRoutes) return { status: 503, reason: 'draining' };
    if (this.calls.size >= this.deps.maxCalls) return { status: 503, reason: 'max-calls' };
    return null;
  }

  accept(conn: MediaStreamConnection): void {
    const { log: rootLog, profile } = this.deps;
    this.calls.add(conn);
    let call: ActiveCall | undefined;
    let log = rootLog;
    const guard = (stage: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        metrics.callErrors.inc({ stage });
        log.error({ err, stage }, 'unexpected error in this call: ending it (other calls are unaffected)');
        try {
          call?.close();
        } catch (closeErr) {
          log.error({ err: closeErr }, 'error while closing the failed call');
        }
        conn.close(1011, 'internal error');
      }
    };
    conn.attach({
      onStart: (start) =>
        guard('start', () => {
          log = rootLog.child({ callSid: start.callSid, streamSid: start.streamSid });
          conn.setLogger(log);
          metrics.callsStarted.inc();
          const mode = start.customParameters.mode ?? 'hotline';
          const route = this.deps.routes?.[mode];
          if (route) {
            call = route(conn, start, log);
            if (call) metrics.callsActive.inc();
            else conn.close(1008, 'stream refused');
            return;
          }
          if (mode !== 'hotline') {
            log.warn({ mode }, 'unknown stream mode parameter: closing');
            conn.close(1008, 'unknown mode');
            return;
          }
          if (this.draining) {
            log.warn('new hotline stream while draining: closing');
            conn.close(1013, 'server draining');
            return;
          }
          const requested = start.customParameters.voice;
          let voice = profile.voices.defaultVoiceId;
          if (requested && profile.voices.isValid(requested)) voice = requested;
          else if (requested) log.warn({ requested, voice }, 'unknown voice parameter: using the default voice');
          call = new HotlineCall(conn, start, voice, { profile, log });
          metrics.callsActive.inc();
          log.info({ engine: profile.engine, masking: profile.mode, voice, mode }, 'media stream started');
        }),
      onMedia: (frame) => guard('media', () => call?.onMedia(frame)),
      onMark: (name) => guard('mark', () => call?.onMark(name)),
      onDtmf: (digit) => guard('dtmf', () => call?.onDtmf(digit)),
      onEnd: (reason) => {
        if (call) metrics.callsActive.dec();
        try {
          call?.close();
        } catch (err) {
          log.error({ err }, 'error while closing a call');
        }
        this.calls.delete(conn);
        log.info({ reason }, 'media stream ended');
        if (this.calls.size === 0) for (const w of this.idleWaiters.splice(0)) w();
      },
    });
  }

  /** Stops admitting streams; resolves when active calls have ended or the timeout passed. */
  async drain(timeoutMs: number): Promise<{ remaining: number }> {
    this.draining = true;
    if (this.calls.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const remaining = this.calls.size;
    for (const c of [...this.calls]) c.close(1001, 'server shutting down');
    return { remaining };
  }
}
