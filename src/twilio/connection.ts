/**
 * One Twilio Media Streams WebSocket, policed: validates every inbound message (through the
 * serializer, ./messages.ts), enforces the per-connection limits (binary frames, message rate,
 * audio ahead of real time, outbound backlog, heartbeat) and hands typed events to the call.
 * Media is decoded from mu-law to PCM once (./media-in.ts). Bad input is logged, counted and
 * skipped; only abuse that makes the connection useless closes it.
 *
 * Outbound, the connection owns one clock (./media-out.ts), opened once the call knows how it
 * plays: everything the peer hears is a slot on it, and only it sends media, marks and clear.
 * Mark echoes go straight back to it.
 */
import type { WebSocket, RawData } from 'ws';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import { MediaFramer, type AudioFrame } from './media-in.js';
import { MediaOut, type PlayoutOptions, type PlayoutSink } from './media-out.js';
import { parseInbound, ProtocolError, serializeClear, serializeMark, serializeMedia, type StartInfo } from './messages.js';

export interface StreamHandlers {
  onStart(start: StartInfo): void;
  /** The caller's audio, decoded once: 20 ms PCM frames on the stream's clock (gaps kept). */
  onMedia(frame: AudioFrame): void;
  onDtmf(digit: string): void;
  /** Twilio's stop, or the socket closed: called once. */
  onEnd(reason: string): void;
}

export interface StreamLimits {
  maxMessagesPerSec: number;
  maxBufferedBytes: number;
  heartbeatMs: number;
  /** Malformed messages tolerated before the peer is considered broken. */
  maxProtocolErrors?: number;
  /** A socket with no `start` by then is closed (Twilio sends it at once); default 10 s. */
  startTimeoutMs?: number;
  /**
   * How far the caller's audio may run ahead of real time (bunched frames after a network
   * stall) before the stream is closed: Twilio sends audio as it is spoken, so more is abuse
   * that would spend CPU on audio nobody is saying. Default 20 s.
   */
  maxAudioAheadMs?: number;
}

export class MediaStreamConnection {
  private handlers: StreamHandlers | undefined;
  private output_: MediaOut | undefined;
  /** Inside an inbound message's handlers: sends here would re-enter the caller's code. */
  private inbound = false;
  /** Sends made from inside an inbound handler (the clock design keeps this at 0). */
  sentDuringInbound = 0;
  private started: StartInfo | undefined;
  private ended = false;
  private readonly framer = new MediaFramer();
  /** Token bucket for the message rate: refills at maxMessagesPerSec, holds 2 s worth, so the
   *  bunched frames after a network stall pass while a flood does not. */
  private tokens: number;
  /** Audio received since start, and when start came: the audio-ahead budget. */
  private audioMs = 0;
  private startedAt = 0;
  /** When the last media message arrived (0: none yet): idle started streams are closed (src/twilio/upgrade.ts). */
  lastMediaAt = 0;
  private lastRefill = Date.now();
  private protocolErrors = 0;
  private alive = true;
  private heartbeat: NodeJS.Timeout | undefined;
  private startDeadline: NodeJS.Timeout | undefined;
  /** The call's child logger once it started (setLogger). */
  private log: Logger;

  constructor(
    private readonly ws: WebSocket,
    private readonly limits: StreamLimits,
    log: Logger,
  ) {
    this.log = log;
    this.tokens = 2 * limits.maxMessagesPerSec;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', (code) => this.end(`socket closed (${code})`));
    ws.on('error', (err) => this.log.warn({ err: err.message }, 'websocket error'));
    ws.on('pong', () => (this.alive = true));
    this.heartbeat = setInterval(() => {
      if (!this.alive) {
        this.log.warn('no pong within the heartbeat interval: closing dead socket');
        metrics.wsClosed.inc({ reason: 'heartbeat' });
        ws.terminate();
        return;
      }
      this.alive = false;
      ws.ping();
    }, limits.heartbeatMs);
    this.heartbeat.unref();
    // Until `start` the socket is no call, yet it counts against MAX_CALLS.
    this.startDeadline = setTimeout(() => {
      metrics.wsClosed.inc({ reason: 'no-start' });
      this.log.warn('no start message in time: closing');
      this.close(1008, 'no start message');
    }, limits.startTimeoutMs ?? 10_000);
    this.startDeadline.unref();
  }

  attach(handlers: StreamHandlers): void {
    this.handlers = handlers;
  }

  get streamSid(): string | undefined {
    return this.started?.streamSid;
  }

  setLogger(log: Logger): void {
    this.log = log;
  }

  get isOpen(): boolean {
    return !this.ended && this.ws.readyState === this.ws.OPEN;
  }

  /** Bytes queued in the socket that the peer has not read yet. */
  get bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  /** The outbound clock, once opened. */
  get output(): MediaOut | undefined {
    return this.output_;
  }

  /**
   * The connection's one outbound clock, opened once (after start) with the call's playout
   * settings. Everything the peer hears is written into its slots.
   */
  openOutput(opts: PlayoutOptions): MediaOut {
    if (this.output_) throw new Error('the connection already has its outbound clock');
    const sid = this.requireSid();
    const sink: PlayoutSink = {
      sendMedia: (mulaw) => this.send(serializeMedia(sid, mulaw)),
      sendMark: (name) => this.send(serializeMark(sid, name)),
      sendClear: () => this.send(serializeClear(sid)),
    };
    this.output_ = new MediaOut(sink, opts, this.log);
    if (this.ended) this.output_.close();
    return this.output_;
  }

  close(code = 1000, reason = 'bye'): void {
    if (this.ws.readyState === this.ws.OPEN || this.ws.readyState === this.ws.CONNECTING) this.ws.close(code, reason);
    this.end(reason);
  }

  private requireSid(): string {
    if (!this.started) throw new Error('cannot send before the stream started');
    return this.started.streamSid;
  }

  private send(text: string): boolean {
    if (!this.isOpen) return false;
    if (this.inbound) {
      this.sentDuringInbound++;
      this.log.error('outbound message sent from an inbound handler: only the clock may send');
    }
    if (this.ws.bufferedAmount > this.limits.maxBufferedBytes) {
      // The peer stopped reading: holding more would grow memory without bound.
      this.log.warn({ buffered: this.ws.bufferedAmount }, 'peer is not reading: outbound buffer full, closing');
      metrics.wsClosed.inc({ reason: 'slow-consumer' });
      this.ws.terminate();
      this.end('slow consumer');
      return false;
    }
    this.ws.send(text);
    return true;
  }

  private refuse(reason: string, message: string): void {
    metrics.protocolErrors.inc({ reason });
    this.log.warn({ reason }, `inbound message refused: ${message}`);
    if (++this.protocolErrors > (this.limits.maxProtocolErrors ?? 100)) {
      metrics.wsClosed.inc({ reason: 'protocol-errors' });
      this.close(1008, 'too many malformed messages');
    }
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.ended) return;
    this.inbound = true;
    try {
      this.handle(data, isBinary);
    } finally {
      this.inbound = false;
    }
  }

  private handle(data: RawData, isBinary: boolean): void {
    const now = Date.now();
    const rate = this.limits.maxMessagesPerSec;
    this.tokens = Math.min(2 * rate, this.tokens + ((now - this.lastRefill) * rate) / 1000);
    this.lastRefill = now;
    if (--this.tokens < 0) {
      metrics.protocolErrors.inc({ reason: 'rate-limit' });
      metrics.wsClosed.inc({ reason: 'flood' });
      this.log.warn({ limit: rate }, 'message flood: over the per-second limit (2 s burst allowed), closing');
      this.close(1008, 'message rate limit exceeded');
      return;
    }
    if (isBinary) {
      metrics.wsClosed.inc({ reason: 'binary' });
      this.refuse('binary', 'binary frames are not part of the Media Streams protocol');
      this.close(1003, 'binary frames not accepted');
      return;
    }
    let ev;
    try {
      ev = parseInbound(rawToString(data));
    } catch (err) {
      if (err instanceof ProtocolError) {
        this.refuse(err.reason, err.message);
        if (err.reason === 'bad-media-format') this.close(1003, 'unsupported media format');
        return;
      }
      throw err;
    }
    const h = this.handlers;
    if (!h) return;
    if (ev.event === 'connected') return;
    if (ev.event === 'start') {
      if (this.started) return this.refuse('duplicate-start', 'a second start on the same stream');
      this.started = ev.start;
      this.startedAt = Date.now();
      clearTimeout(this.startDeadline);
      h.onStart(ev.start);
      return;
    }
    if (!this.started) return this.refuse('before-start', `${ev.event} before start`);
    if (ev.streamSid !== this.started.streamSid) return this.refuse('wrong-stream-sid', `${ev.event} for another streamSid`);
    switch (ev.event) {
      case 'media': {
        // Media time is the stream position: the audio received plus the silence its timestamp
        // gaps insert (capped by the wall clock in the framer), so a stream whose timestamps
        // jump ahead spends the audio-ahead budget exactly as bunched audio does.
        const wallMs = now - this.startedAt;
        this.lastMediaAt = now;
        const position = this.framer.positionAfter(ev.payload.length, ev.timestampMs, wallMs);
        // Twilio stamps media as it is spoken: a timestamp far past the wall clock is not a stall.
        const ahead = Math.max(position, ev.timestampMs ?? 0) - wallMs;
        if (ahead > (this.limits.maxAudioAheadMs ?? 20_000)) {
          metrics.protocolErrors.inc({ reason: 'audio-ahead' });
          metrics.wsClosed.inc({ reason: 'audio-ahead' });
          this.log.warn(
            { aheadMs: Math.round(ahead), audioMs: Math.round(this.audioMs), gapMs: Math.round(this.framer.gapMs), clampedGapMs: Math.round(this.framer.clampedMs), timestampMs: ev.timestampMs, limitMs: this.limits.maxAudioAheadMs ?? 20_000 },
            'caller audio far ahead of real time (audio received plus the silence of timestamp gaps, or its timestamps): closing',
          );
          this.close(1008, 'audio faster than real time');
          return;
        }
        this.audioMs += ev.payload.length / 8;
        this.framer.push(ev.payload, ev.timestampMs, (frame) => {
          if (!this.ended) h.onMedia(frame);
        }, wallMs);
        return;
      }
      case 'dtmf':
        return h.onDtmf(ev.digit);
      case 'mark':
        this.output_?.onMarkEchoed(ev.name);
        return;
      case 'stop':
        this.end('stop');
        this.close(1000, 'stream stopped');
        return;
    }
  }

  private end(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.startDeadline);
    this.output_?.close();
    this.handlers?.onEnd(reason);
  }
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
