/**
 * What a test scripts (a phone behind the fake REST API) and what it observes (each call the
 * phone received: its timeline, webhooks, status callbacks and media streams).
 */

/** Someone who answers and follows the TwiML: presses keys at a <Gather>, speaks into a stream. */
export interface PersonScript {
  kind: 'person' | 'callWaiting';
  /** Rings this long, then answers (unless the call's Timeout passes first). Default 1000. */
  answerAfterMs?: number;
  /**
   * Keys pressed at each <Gather>, one string per Gather in order (the last one repeats);
   * '' presses nothing. Default: nothing.
   */
  digits?: string | string[];
  /** When the first key goes in, from the start of the Gather (nested prompts included). Default 500. */
  pressAfterMs?: number;
  /** 8 kHz mu-law spoken into each media stream, from its start (then silence). */
  audio?: Uint8Array;
  /** DTMF pressed on each media stream, at ms from its start. */
  streamDtmf?: Array<{ digit: string; atMs: number }>;
  /** Hangs up this long after answering. Default: never (the TwiML or the bridge ends the call). */
  hangUpAfterMs?: number;
  /** Hangs up as soon as a media stream ends, instead of following the TwiML after it. */
  hangUpOnStreamEnd?: boolean;
  /**
   * Answers while on another call (call waiting). Without it a person on a call is busy.
   * kind 'callWaiting' implies it.
   */
  callWaiting?: boolean;
}

/** An answering machine: answers at once, plays its greeting into any stream, never presses a key. */
export interface VoicemailScript {
  kind: 'voicemail';
  /** Default 0. */
  answerAfterMs?: number;
  /** 8 kHz mu-law greeting played into each media stream from its start. Default: 2 s of silence. */
  greeting?: Uint8Array;
  /** Hangs up this long after answering (its recording limit). Default 20000. */
  maxMessageMs?: number;
}

export type PhoneScript =
  | PersonScript
  | VoicemailScript
  /** Busy at once. */
  | { kind: 'busy' }
  /** Rings until the call's Timeout, then no-answer. */
  | { kind: 'no-answer' }
  /** The call cannot be placed: failed at once. */
  | { kind: 'failed' | 'unreachable' };

export type FinalStatus = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

/** One thing that happened on a phone call, at ms on the fake's clock (fake.now()). */
export interface PhoneEvent {
  at: number;
  type:
    | 'created'
    | 'ringing'
    | 'answered'
    | 'webhook'
    | 'say'
    | 'play'
    | 'pause'
    | 'gather'
    | 'digits'
    | 'gather-timeout'
    | 'redirect'
    | 'stream-open'
    | 'stream-dtmf'
    | 'stream-close'
    | 'rest-update'
    | 'hangup'
    | 'warning'
    | 'error'
    | 'status-callback'
    | FinalStatus;
  /** Details: url, digits, text, who closed, the REST form, the callback's CallStatus... */
  detail?: Record<string, unknown>;
}

export interface WebhookRecord {
  at: number;
  method: string;
  url: string;
  params: Record<string, string>;
  signature: string;
  /** HTTP status, or 0 when the request failed. */
  status: number;
  body: string;
}

export interface PhoneStreamRecord {
  /** The Stream url as the TwiML gave it, and what the phone connected to. */
  url: string;
  connectUrl: string;
  name?: string;
  parameters: Record<string, string>;
  streamSid: string;
  openedAt: number;
  closedAt?: number;
  /** 'bridge': the server closed the socket; 'twilio': the call ended or was redirected (stop sent first). */
  closedBy?: 'bridge' | 'twilio';
  closeCode?: number;
  /** Every media payload the server sent, as it arrived. */
  received: Array<{ at: number; payload: Uint8Array }>;
  /** What played to the phone's ear (8 kHz mu-law from the stream's start, 0xFF where nothing played; cleared audio never plays). */
  heard: Uint8Array;
  /** Marks echoed back, and whether a clear flushed them. */
  marks: Array<{ name: string; at: number; cleared: boolean }>;
  clears: number[];
  /** Inbound frames the phone sent (audio then silence). */
  framesSent: number;
  dtmfSent: Array<{ digit: string; at: number }>;
  /** What the server sent that Twilio would reject. */
  protocolErrors: string[];
}

export interface PhoneCall {
  sid: string;
  to: string;
  from: string;
  /** The phone's script kind. */
  kind: PhoneScript['kind'];
  /** Current status: queued, ringing, in-progress, or the final one. */
  status: string;
  timeline: PhoneEvent[];
  /** Every TwiML request (Url, Gather action, Redirect...) in order. */
  webhooks: WebhookRecord[];
  /** Every status callback sent. */
  callbacks: WebhookRecord[];
  streams: PhoneStreamRecord[];
  /** Time of the first event of this type (undefined when none). */
  at(type: PhoneEvent['type']): number | undefined;
  events(type: PhoneEvent['type']): PhoneEvent[];
  /** Resolves with the first event of this type (at once if it happened already). */
  when(type: PhoneEvent['type']): Promise<PhoneEvent>;
  /** Resolves with the final status once the call ended and its final status callback was delivered. */
  ended: Promise<FinalStatus>;
}

export interface FakePhone {
  to: string;
  script: PhoneScript;
  calls: PhoneCall[];
  /** Resolves with the n-th call (from 0) to this phone, as soon as it is placed. */
  whenCall(n?: number): Promise<PhoneCall>;
  /** Pairs of calls where `second` was placed while `first` was answered and not ended (the phone was dialled while on a call). */
  overlaps(): Array<{ first: PhoneCall; second: PhoneCall }>;
}

/** Timing and connection knobs shared by all phones. */
export interface PhoneOptions {
  /** Speaking time of <Say> per character. Default 60 ms. */
  sayMsPerChar?: number;
  /** Length of a <Play> whose file is not a WAV the fake can measure. Default 1000 ms. */
  playMs?: number;
  /**
   * Where the phone connects for a Stream url (the signature is always over the url as given).
   * Default: the url without its query; wss:// to a loopback host becomes ws://.
   */
  streamConnectUrl?: (url: string) => string;
}
