/**
 * Executes TwiML for one answered phone call, verb by verb, as Twilio does:
 *   <Say>/<Play>/<Pause>  take (roughly) their time; <Play digits> sends tones
 *   <Gather>              nested prompts, barge-in by the first key, `timeout` s of silence after
 *                         the prompts or the last key; ends on numDigits or finishOnKey; input goes
 *                         to `action` (default: this document) with Digits; no input: next verb,
 *                         or `action` with empty Digits when actionOnEmptyResult="true"
 *   <Redirect>            fetches the URL (method, default POST) and runs that document
 *   <Connect><Stream>     a media stream until the server closes it or the call ends; then the
 *                         Connect `action` when given, else the next verb
 *   <Hangup>/<Reject>     ends the call; the end of the document ends it too
 * Anything else is skipped with a warning. A TwiML request that fails ends the call (Twilio's
 * "application error").
 */
import { parseTwiml, type TwimlElement } from './twiml.js';
import { openStream } from './stream.js';
import { wavDurationMs } from './http.js';
import type { PersonScript, PhoneEvent, PhoneOptions, PhoneStreamRecord, VoicemailScript, WebhookRecord } from './types.js';

export type TwimlSource = { url: string; method: string } | { twiml: string };
export type RunResult = 'hangup' | 'end' | 'error' | 'aborted';

export interface RunnerHost {
  script: PersonScript | VoicemailScript;
  options: PhoneOptions;
  authToken: string;
  callSid: string;
  accountSid: string;
  now(): number;
  event(type: PhoneEvent['type'], detail?: Record<string, unknown>): void;
  /** A signed TwiML request with the call's parameters plus `extra`; recorded. */
  request(url: string, method: string, extra: Record<string, string>, signal: AbortSignal): Promise<WebhookRecord>;
  streams: PhoneStreamRecord[];
  /** Numbers the call's Gathers from 0 (the script's digits are taken in order, across documents). */
  nextGather(): number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const loops = (el: TwimlElement) => {
  const n = Number(el.attrs['loop'] ?? 1);
  return n === 0 ? 1000 : Math.max(1, Number.isFinite(n) ? n : 1);
};

const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/.test(host);

export function defaultStreamConnectUrl(url: string): string {
  const u = new URL(url);
  u.search = '';
  if (u.protocol === 'wss:' && isLoopback(u.hostname)) u.protocol = 'ws:';
  return u.toString();
}

export async function runTwiml(host: RunnerHost, first: TwimlSource, signal: AbortSignal): Promise<RunResult> {
  const isVoicemail = host.script.kind === 'voicemail';
  let docUrl: string | undefined;

  /** Loads a document; undefined when the request or the TwiML failed (the call then ends). */
  const load = async (src: TwimlSource, extra: Record<string, string> = {}): Promise<TwimlElement[] | undefined> => {
    let body: string;
    if ('twiml' in src) body = src.twiml;
    else {
      const rec = await host.request(src.url, src.method, extra, signal);
      if (signal.aborted) return undefined;
      if (rec.status < 200 || rec.status > 299) {
        host.event('error', { what: 'TwiML request failed (Twilio error 11200)', url: src.url, status: rec.status, body: rec.body.slice(0, 200) });
        return undefined;
      }
      body = rec.body;
      docUrl = src.url;
    }
    try {
      return parseTwiml(body).children;
    } catch (err) {
      host.event('error', { what: 'invalid TwiML (Twilio error 12100)', message: (err as Error).message, body: body.slice(0, 200) });
      return undefined;
    }
  };
  const resolve = (ref: string | undefined): string | undefined => {
    try {
      return new URL(ref ?? docUrl ?? '', docUrl).toString();
    } catch {
      host.event('error', { what: 'cannot resolve URL', ref, docUrl });
      return undefined;
    }
  };

  /** Speaking, playing, pausing: resolves when done or interrupted. */
  const prompt = async (el: TwimlElement, sig: AbortSignal): Promise<void> => {
    if (el.name === 'Say') {
      host.event('say', { text: el.text });
      for (let i = 0; i < loops(el) && !sig.aborted; i++) await sleep(Math.max(200, el.text.length * (host.options.sayMsPerChar ?? 60)), sig);
    } else if (el.name === 'Play') {
      const digits = el.attrs['digits'];
      host.event('play', digits !== undefined ? { digits } : { url: el.text });
      if (digits !== undefined) return sleep([...digits].reduce((ms, d) => ms + (d === 'w' ? 500 : 200), 0), sig);
      const url = resolve(el.text);
      const ms = (url && (await wavDurationMs(url, sig))) || (host.options.playMs ?? 1000);
      for (let i = 0; i < loops(el) && !sig.aborted; i++) await sleep(ms, sig);
    } else if (el.name === 'Pause') {
      const s = Number(el.attrs['length'] ?? 1);
      host.event('pause', { length: s });
      await sleep((Number.isFinite(s) ? s : 1) * 1000, sig);
    } else host.event('warning', { what: `<${el.name}> is not supported here: skipped` });
  };

  const gather = async (el: TwimlElement): Promise<TwimlSource & { extra: Record<string, string> } | 'next' | 'error'> => {
    const a = el.attrs;
    const n = host.nextGather();
    const timeoutMs = Number(a['timeout'] ?? 5) * 1000;
    const numDigits = a['numDigits'] ? Number(a['numDigits']) : Infinity;
    const finishOnKey = a['finishOnKey'] ?? '#';
    const dtmfOn = (a['input'] ?? 'dtmf').split(/\s+/).includes('dtmf');
    host.event('gather', { n, ...a });
    let keys = '';
    if (!isVoicemail) {
      const d = (host.script as PersonScript).digits ?? '';
      keys = typeof d === 'string' ? d : (d[Math.min(n, d.length - 1)] ?? '');
    }
    if (keys && !dtmfOn) {
      host.event('warning', { what: 'keys pressed at a <Gather> without input="dtmf": ignored', keys });
      keys = '';
    }
    const start = host.now();
    const keyAt = (i: number) => start + ((host.script as PersonScript).pressAfterMs ?? 500) + i * 150;
    // Nested prompts play until done or the first key (barge-in).
    const bargeIn = new AbortController();
    const onAbort = () => bargeIn.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    const firstKey = keys ? setTimeout(() => bargeIn.abort(), Math.max(0, keyAt(0) - host.now())) : undefined;
    for (const child of el.children) if (!bargeIn.signal.aborted) await prompt(child, bargeIn.signal);
    clearTimeout(firstKey);
    signal.removeEventListener('abort', onAbort);
    let last = host.now();
    let digits = '';
    let finishedOn = '';
    for (let i = 0; i < keys.length && !signal.aborted; i++) {
      if (keyAt(i) > last + timeoutMs) break; // silence ran out before this key
      await sleep(keyAt(i) - host.now(), signal);
      if (signal.aborted) break;
      const key = keys[i]!;
      host.event('digits', { digit: key, gather: n });
      last = host.now();
      if (finishOnKey && finishOnKey.includes(key)) {
        finishedOn = key;
        break;
      }
      digits += key;
      if (digits.length >= numDigits) break;
    }
    if (!finishedOn && digits.length < numDigits) await sleep(last + timeoutMs - host.now(), signal);
    if (signal.aborted) return 'next';
    const url = resolve(a['action']);
    if (!url) return 'error';
    const method = a['method'] ?? 'POST';
    if (digits || finishedOn) return { url, method, extra: { Digits: digits, FinishedOnKey: finishedOn } };
    host.event('gather-timeout', { n, actionOnEmptyResult: a['actionOnEmptyResult'] === 'true' });
    return a['actionOnEmptyResult'] === 'true' ? { url, method, extra: { Digits: '' } } : 'next';
  };

  const connect = async (el: TwimlElement): Promise<'hangup' | 'next'> => {
    const st = el.children.find((c) => c.name === 'Stream');
    if (!st?.attrs['url']) {
      host.event('warning', { what: '<Connect> without a <Stream url>: skipped' });
      return 'next';
    }
    const url = st.attrs['url'];
    if (!url.startsWith('wss://')) host.event('warning', { what: 'Stream url is not wss:// (Twilio requires it)', url });
    if (url.includes('?')) host.event('warning', { what: 'Stream url has a query string: Twilio drops it', url });
    const parameters: Record<string, string> = {};
    for (const p of st.children) if (p.name === 'Parameter' && p.attrs['name'] !== undefined) parameters[p.attrs['name']] = p.attrs['value'] ?? '';
    const script = host.script;
    const connectUrl = (host.options.streamConnectUrl ?? defaultStreamConnectUrl)(url);
    let stream;
    try {
      stream = await openStream({
        url,
        connectUrl,
        ...(st.attrs['name'] !== undefined ? { name: st.attrs['name'] } : {}),
        parameters,
        authToken: host.authToken,
        callSid: host.callSid,
        accountSid: host.accountSid,
        now: host.now,
        ...(script.kind === 'voicemail'
          ? script.greeting
            ? { audio: script.greeting }
            : {}
          : { ...(script.audio ? { audio: script.audio } : {}), ...(script.streamDtmf ? { dtmf: script.streamDtmf } : {}) }),
        onDtmf: (digit) => host.event('stream-dtmf', { digit }),
      });
    } catch (err) {
      host.event('error', { what: 'stream handshake failed (Twilio error 31920)', url, message: (err as Error).message });
      return 'next';
    }
    host.streams.push(stream.record);
    host.event('stream-open', { url, streamSid: stream.record.streamSid, parameters });
    const onAbort = () => void stream.stop();
    signal.addEventListener('abort', onAbort, { once: true });
    const by = await stream.ended;
    signal.removeEventListener('abort', onAbort);
    host.event('stream-close', { by, streamSid: stream.record.streamSid, code: stream.record.closeCode });
    return !isVoicemail && (script as PersonScript).hangUpOnStreamEnd ? 'hangup' : 'next';
  };

  let verbs = await load(first);
  while (verbs) {
    let next: TwimlSource | undefined;
    let extra: Record<string, string> = {};
    for (const v of verbs) {
      if (signal.aborted) return 'aborted';
      if (v.name === 'Say' || v.name === 'Play' || v.name === 'Pause') await prompt(v, signal);
      else if (v.name === 'Hangup' || v.name === 'Reject') return 'hangup';
      else if (v.name === 'Redirect') {
        const url = resolve(v.text);
        if (!url) return 'error';
        host.event('redirect', { url });
        next = { url, method: v.attrs['method'] ?? 'POST' };
      } else if (v.name === 'Gather') {
        const g = await gather(v);
        if (g === 'error') return 'error';
        if (g !== 'next') ({ extra, ...next } = g);
      } else if (v.name === 'Connect') {
        if ((await connect(v)) === 'hangup') return signal.aborted ? 'aborted' : 'hangup';
        const action = v.attrs['action'];
        if (action !== undefined && !signal.aborted) {
          const url = resolve(action);
          if (!url) return 'error';
          next = { url, method: v.attrs['method'] ?? 'POST' };
        }
      } else host.event('warning', { what: `<${v.name}> is not supported by the fake phone: skipped` });
      if (next) break;
    }
    if (signal.aborted) return 'aborted';
    if (!next) return 'end';
    verbs = await load(next, extra);
    if (signal.aborted) return 'aborted';
  }
  return 'error';
}
