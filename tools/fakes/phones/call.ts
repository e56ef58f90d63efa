/**
 * One call placed to a phone through the fake REST API, through Twilio's call states:
 *   queued -> (initiated) -> ringing -> in-progress -> completed
 *                    \-> busy | failed       \-> no-answer (Timeout) | canceled (REST)
 * Status callbacks go to StatusCallback (signed, StatusCallbackMethod) for the events listed in
 * StatusCallbackEvent (initiated, ringing, answered -> CallStatus=in-progress); the final status
 * (completed, busy, no-answer, failed, canceled) is always sent. REST updates: Status=canceled
 * stops a queued or ringing call and does nothing to one in progress; Status=completed ends the
 * call either way (a call not answered yet ends canceled); Url/Twiml makes an answered call
 * follow the new TwiML (its stream is stopped first), and a call not answered yet fetch it on
 * answer; a call that ended refuses them (21220).
 */
import { twilioRequest } from './http.js';
import { runTwiml, type RunResult, type TwimlSource } from './runner.js';
import type { FinalStatus, PersonScript, PhoneCall, PhoneEvent, PhoneOptions, PhoneScript, VoicemailScript, WebhookRecord } from './types.js';

/** The REST resource the call is shown as (the fake's FakeCall). */
export interface CallResource {
  sid: string;
  to: string;
  from: string;
  status: string;
  [k: string]: unknown;
}

export interface PlaceCall {
  resource: CallResource;
  /** The Calls create form; StatusCallbackEvent as every value given. */
  form: Record<string, string>;
  statusCallbackEvents: string[];
  script: PhoneScript;
  options: PhoneOptions;
  accountSid: string;
  authToken: string;
  now: () => number;
  /** The phone is on another call and has no call waiting. */
  onAnotherCall: boolean;
}

export interface PhoneCallControl {
  call: PhoneCall;
  /** A REST update (POST Calls/{sid}.json); an error answer when Twilio would refuse it. */
  update(form: Record<string, string>): { status: number; code: number; message: string } | undefined;
  /** Ends the call now (the fake is closing). */
  shutdown(): Promise<void>;
}

export function placeCall(p: PlaceCall): PhoneCallControl {
  const { resource: r, form, script, now } = p;
  const timeline: PhoneEvent[] = [];
  const waiters = new Set<() => void>();
  const event = (type: PhoneEvent['type'], detail?: Record<string, unknown>) => {
    timeline.push(detail ? { at: now(), type, detail } : { at: now(), type });
    for (const w of [...waiters]) w();
  };
  let final: FinalStatus | undefined;
  let resolveEnded!: (s: FinalStatus) => void;
  const ended = new Promise<FinalStatus>((res) => (resolveEnded = res));
  const call: PhoneCall = {
    sid: r.sid,
    to: r.to,
    from: r.from,
    kind: script.kind,
    get status() {
      return r.status;
    },
    timeline,
    webhooks: [],
    callbacks: [],
    streams: [],
    at: (type) => timeline.find((e) => e.type === type)?.at,
    events: (type) => timeline.filter((e) => e.type === type),
    when: (type) =>
      new Promise((resolve) => {
        const check = () => {
          const e = timeline.find((x) => x.type === type);
          if (!e) return;
          waiters.delete(check);
          resolve(e);
        };
        waiters.add(check);
        check();
      }),
    ended,
  };

  const amd = form['MachineDetection'];
  const answeredBy = () => (script.kind === 'voicemail' ? (amd === 'DetectMessageEnd' ? 'machine_end_beep' : 'machine_start') : 'human');
  const callParams = (): Record<string, string> => ({
    AccountSid: p.accountSid,
    ApiVersion: '2010-04-01',
    CallSid: r.sid,
    CallStatus: r.status,
    Called: r.to,
    Caller: r.from,
    Direction: 'outbound-api',
    From: r.from,
    To: r.to,
    ...(amd && answeredAt !== undefined ? { AnsweredBy: answeredBy() } : {}),
  });

  // ---- status callbacks, delivered in order ----
  let sequence = 0;
  let callbacks: Promise<unknown> = Promise.resolve();
  const statusCallback = (ev: string, status: string) => {
    const url = form['StatusCallback'];
    if (!url) return;
    const isFinal = ev === 'completed';
    if (!isFinal && !p.statusCallbackEvents.includes(ev)) return;
    const params: Record<string, string> = {
      ...callParams(),
      CallStatus: status,
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(sequence++),
      Timestamp: new Date().toUTCString(),
    };
    if (isFinal) params['CallDuration'] = String(answeredAt === undefined ? 0 : Math.round((now() - answeredAt) / 1000));
    callbacks = callbacks.then(async () => {
      const rec = await twilioRequest({ authToken: p.authToken, url, method: form['StatusCallbackMethod'] ?? 'POST', params, at: now });
      call.callbacks.push(rec);
      event('status-callback', { event: ev, CallStatus: status, httpStatus: rec.status });
    });
  };

  // ---- life of the call ----
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const after = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  let answeredAt: number | undefined;
  let hanging = false;
  let gathers = 0;
  let run: { ctrl: AbortController; done: Promise<RunResult> } | undefined;

  const finish = (status: FinalStatus, detail?: Record<string, unknown>) => {
    if (final) return;
    final = status;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    r.status = status;
    r['end_time'] = new Date().toUTCString();
    r['duration'] = String(answeredAt === undefined ? 0 : Math.round((now() - answeredAt) / 1000));
    event(status, detail);
    statusCallback('completed', status);
    void callbacks.then(() => resolveEnded(status));
  };

  /** Stops what the call is doing (its stream first), then it is completed. */
  const hangUp = async (by: 'phone' | 'rest' | 'twiml' | 'shutdown', why?: string) => {
    if (final || hanging) return;
    hanging = true;
    event('hangup', why ? { by, why } : { by });
    const current = run;
    current?.ctrl.abort();
    await current?.done;
    finish('completed');
  };

  const follow = (src: TwimlSource) => {
    const ctrl = new AbortController();
    const host = {
      script: script as PersonScript | VoicemailScript,
      options: p.options,
      authToken: p.authToken,
      callSid: r.sid,
      accountSid: p.accountSid,
      now,
      event,
      streams: call.streams,
      nextGather: () => gathers++,
      request: async (url: string, method: string, extra: Record<string, string>, signal: AbortSignal): Promise<WebhookRecord> => {
        const rec = await twilioRequest({ authToken: p.authToken, url, method, params: { ...callParams(), ...extra }, at: now, signal });
        call.webhooks.push(rec);
        event('webhook', { url, method, status: rec.status, ...extra });
        return rec;
      },
    };
    const mine = {
      ctrl,
      done: runTwiml(host, src, ctrl.signal).catch((err: unknown) => {
        event('error', { what: 'fake phone failed', message: String(err) });
        return 'error' as const;
      }),
    };
    run = mine;
    void mine.done.then((res) => {
      if (res !== 'aborted' && run === mine) void hangUp('twiml', res === 'end' ? 'end of TwiML' : res === 'error' ? 'application error' : '<Hangup>');
    });
  };
  const source = (): TwimlSource => (r['url'] ? { url: String(r['url']), method: form['Method'] ?? 'POST' } : { twiml: String(r['twiml'] ?? '') });

  const answer = () => {
    if (final) return;
    answeredAt = now();
    r.status = 'in-progress';
    r['start_time'] = new Date().toUTCString();
    if (amd) r['answered_by'] = answeredBy();
    event('answered');
    statusCallback('answered', 'in-progress');
    const s = script as PersonScript | VoicemailScript;
    if (s.kind === 'voicemail') after(s.maxMessageMs ?? 20_000, () => void hangUp('phone', 'message time limit'));
    else if (s.hangUpAfterMs !== undefined) after(s.hangUpAfterMs, () => void hangUp('phone'));
    // DetectMessageEnd: Twilio waits for the greeting to end before fetching the TwiML.
    const greetingMs = s.kind === 'voicemail' && amd === 'DetectMessageEnd' ? (s.greeting?.length ?? 16_000) / 8 : 0;
    after(greetingMs, () => follow(source()));
  };

  const ring = (thenAnswerAfterMs: number | undefined) => {
    r.status = 'ringing';
    event('ringing');
    statusCallback('ringing', 'ringing');
    const timeoutMs = Math.min(600, Number(form['Timeout'] ?? 60)) * 1000;
    if (thenAnswerAfterMs !== undefined && thenAnswerAfterMs < timeoutMs) after(thenAnswerAfterMs, answer);
    else after(timeoutMs, () => finish('no-answer'));
  };

  event('created', { from: r.from, url: r['url'], statusCallbackEvents: p.statusCallbackEvents });
  after(0, () => {
    statusCallback('initiated', 'initiated');
    if (script.kind === 'busy') finish('busy');
    else if (script.kind === 'failed' || script.kind === 'unreachable') finish('failed');
    else if (script.kind === 'no-answer') ring(undefined);
    else if (p.onAnotherCall) finish('busy', { why: 'on another call, no call waiting' });
    else {
      const s = script as PersonScript | VoicemailScript;
      ring(s.answerAfterMs ?? (s.kind === 'voicemail' ? 0 : 1000));
    }
  });

  return {
    call,
    update(u) {
      event('rest-update', { ...u });
      if (u['Status'] === 'canceled' || u['Status'] === 'completed') {
        if (final) return undefined;
        if (r.status === 'queued' || r.status === 'ringing') finish('canceled', { by: 'rest' });
        else if (u['Status'] === 'completed') {
          void hangUp('rest');
          r.status = 'completed';
        }
        // canceled on a call in progress: no effect (Twilio leaves it up).
        return undefined;
      }
      if (u['Url'] || u['Twiml']) {
        if (final || hanging) return { status: 400, code: 21220, message: 'Call is not in-progress. Cannot redirect.' };
        if (u['Url']) {
          r['url'] = u['Url'];
          delete r['twiml'];
        } else {
          r['twiml'] = u['Twiml'];
          delete r['url'];
        }
        if (r.status === 'in-progress') {
          const current = run;
          current?.ctrl.abort();
          const src: TwimlSource = u['Url'] ? { url: u['Url'], method: u['Method'] ?? 'POST' } : { twiml: u['Twiml']! };
          void (current?.done ?? Promise.resolve()).then(() => {
            if (!final && !hanging) follow(src);
          });
        }
      }
      return undefined;
    },
    shutdown: async () => {
      if (final) return;
      if (r.status === 'in-progress') await hangUp('shutdown');
      else finish('canceled', { by: 'shutdown' });
    },
  };
}
