/**
 * A loopback fake of Twilio's REST API (2010-04-01): records every request and answers with
 * canned JSON shaped like Twilio's. Covers IncomingPhoneNumbers (list, update) and Calls
 * (create, update, fetch); anything else can be scripted with `on()`.
 *
 * Point the twilio package at it with createTwilioRestClient({ baseUrl: fake.url, ... })
 * (src/twilio/rest.ts), which passes a redirecting `httpClient`. Imports nothing from src/.
 *
 * Phones (opt-in): with `phones`, a call created to one of those `To`s is placed for real: it
 * rings, is answered (or busy, no-answer, failed), fetches and follows its TwiML, opens its media
 * streams, sends status callbacks, obeys REST updates; see phones/index.ts. Without it, or for any
 * other `To`, a created call is a passive record a test plays by hand.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createPhoneExchange, type FakePhone, type PhoneOptions, type PhoneScript } from './phones/index.js';

export type { FakePhone, PhoneCall, PhoneEvent, PhoneOptions, PhoneScript, PhoneStreamRecord, WebhookRecord } from './phones/index.js';

export interface RecordedRestRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Form body (Twilio's REST API takes application/x-www-form-urlencoded). */
  form: Record<string, string>;
  /** The raw body (repeated parameters, e.g. StatusCallbackEvent, are all in it). */
  body: string;
  /** Basic-auth username (account SID) and password, when present. */
  username?: string;
  password?: string;
  headers: http.IncomingHttpHeaders;
}

export interface FakeNumber {
  sid: string;
  phone_number: string;
  friendly_name: string;
  voice_url: string;
  voice_method: string;
  [k: string]: unknown;
}

export interface FakeCall {
  sid: string;
  to: string;
  from: string;
  status: string;
  url?: string;
  twiml?: string;
  [k: string]: unknown;
}

export type CannedAnswer = { status?: number; body: unknown } | undefined;
export type RestHandler = (req: RecordedRestRequest, match: RegExpMatchArray) => CannedAnswer | Promise<CannedAnswer>;

export interface FakeTwilioRest {
  url: string;
  accountSid: string;
  authToken: string;
  requests: RecordedRestRequest[];
  numbers: FakeNumber[];
  calls: FakeCall[];
  /** Resolves with the first call (created by a REST request) matching `pred`, as soon as it exists: no polling. */
  whenCall(pred: (c: FakeCall) => boolean): Promise<FakeCall>;
  /** Script an answer; checked before the built-in routes, last registered first. Return undefined to fall through. */
  on(method: string, path: RegExp, handler: RestHandler): void;
  /** The clock of phone timelines: ms since the fake started. */
  now(): number;
  /** The scripted phone at `to` (throws when there is none). */
  phone(to: string): FakePhone;
  /** Adds or replaces a phone (needs the `phones` option, even `{}`). */
  setPhone(to: string, script: PhoneScript): FakePhone;
  /** Ends every phone call still up, then stops the server. */
  close(): Promise<void>;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export function twilioError(status: number, code: number, message: string): { status: number; body: unknown } {
  return { status, body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

export async function startFakeTwilioRest(o: {
  accountSid?: string;
  authToken?: string;
  numbers?: Array<Partial<FakeNumber> & { phone_number: string }>;
  /** Phones behind the API, by `To` (number, sip:, client:). Opt-in: nothing is driven without it. */
  phones?: Record<string, PhoneScript>;
  phoneOptions?: PhoneOptions;
} = {}): Promise<FakeTwilioRest> {
  const accountSid = o.accountSid ?? sid('AC');
  const authToken = o.authToken ?? randomBytes(16).toString('hex');
  const requests: RecordedRestRequest[] = [];
  const numbers: FakeNumber[] = (o.numbers ?? []).map((n) => ({
    sid: sid('PN'),
    friendly_name: n.phone_number,
    voice_url: '',
    voice_method: 'POST',
    account_sid: accountSid,
    ...n,
  }));
  const calls: FakeCall[] = [];
  const scripted: Array<{ method: string; path: RegExp; handler: RestHandler }> = [];
  const waiters = new Set<() => void>();
  const acct = `/2010-04-01/Accounts/${accountSid}`;
  const now = () => new Date().toUTCString();
  const t0 = performance.now();
  const clock = () => performance.now() - t0;
  const phones = o.phones ? createPhoneExchange({ phones: o.phones, options: o.phoneOptions ?? {}, accountSid, authToken, now: clock }) : undefined;

  const builtIn: Array<{ method: string; path: RegExp; handler: RestHandler }> = [
    {
      method: 'GET',
      path: /^\/2010-04-01\/Accounts\/([^/]+)\/IncomingPhoneNumbers\.json$/,
      handler: (req) => {
        const want = req.query['PhoneNumber'];
        const list = numbers.filter((n) => !want || n.phone_number === want);
        return {
          body: {
            incoming_phone_numbers: list,
            page: 0,
            page_size: Number(req.query['PageSize'] ?? 50),
            start: 0,
            end: Math.max(0, list.length - 1),
            uri: `${acct}/IncomingPhoneNumbers.json`,
            first_page_uri: `${acct}/IncomingPhoneNumbers.json?PageSize=50&Page=0`,
            next_page_uri: null,
            previous_page_uri: null,
          },
        };
      },
    },
    {
      method: 'POST',
      path: /^\/2010-04-01\/Accounts\/([^/]+)\/IncomingPhoneNumbers\/(PN[0-9a-f]+)\.json$/,
      handler: (req, m) => {
        const n = numbers.find((x) => x.sid === m[2]);
        if (!n) return twilioError(404, 20404, `The requested resource ${req.path} was not found`);
        if (req.form['VoiceUrl'] !== undefined) n.voice_url = req.form['VoiceUrl'];
        if (req.form['VoiceMethod'] !== undefined) n.voice_method = req.form['VoiceMethod'];
        if (req.form['FriendlyName'] !== undefined) n.friendly_name = req.form['FriendlyName'];
        n['date_updated'] = now();
        return { body: n };
      },
    },
    {
      method: 'POST',
      path: /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\.json$/,
      handler: (req) => {
        if (!req.form['To'] || !req.form['From']) return twilioError(400, 21201, 'To and From are required');
        if (!req.form['Url'] && !req.form['Twiml'] && !req.form['ApplicationSid']) return twilioError(400, 21205, 'Url, Twiml or ApplicationSid is required');
        const call: FakeCall = {
          sid: sid('CA'),
          account_sid: accountSid,
          to: req.form['To'],
          from: req.form['From'],
          status: 'queued',
          direction: 'outbound-api',
          date_created: now(),
          uri: '',
          ...(req.form['Url'] ? { url: req.form['Url'] } : {}),
          ...(req.form['Twiml'] ? { twiml: req.form['Twiml'] } : {}),
        };
        call['uri'] = `${acct}/Calls/${call.sid}.json`;
        calls.push(call);
        phones?.place(call, req.body);
        return { status: 201, body: call };
      },
    },
    {
      method: 'POST',
      path: /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/(CA[0-9a-f]+)\.json$/,
      handler: (req, m) => {
        const c = calls.find((x) => x.sid === m[2]);
        if (!c) return twilioError(404, 20404, `The requested resource ${req.path} was not found`);
        if (phones?.owns(c.sid)) {
          const refused = phones.update(c.sid, req.form);
          return refused ? twilioError(refused.status, refused.code, refused.message) : { body: c };
        }
        if (req.form['Status']) c.status = req.form['Status'];
        if (req.form['Url']) c.url = req.form['Url'];
        if (req.form['Twiml']) c.twiml = req.form['Twiml'];
        return { body: c };
      },
    },
    {
      method: 'GET',
      path: /^\/2010-04-01\/Accounts\/([^/]+)\/Calls\/(CA[0-9a-f]+)\.json$/,
      handler: (req, m) => {
        const c = calls.find((x) => x.sid === m[2]);
        return c ? { body: c } : twilioError(404, 20404, `The requested resource ${req.path} was not found`);
      },
    },
  ];

  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (raw += c));
    req.on('end', () => {
      void (async () => {
        const u = new URL(req.url ?? '/', 'http://fake');
        const rec: RecordedRestRequest = {
          method: req.method ?? 'GET',
          path: u.pathname,
          query: Object.fromEntries(u.searchParams),
          form: Object.fromEntries(new URLSearchParams(raw)),
          body: raw,
          headers: req.headers,
        };
        const auth = req.headers.authorization;
        if (auth?.startsWith('Basic ')) {
          const [user, ...pass] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
          rec.username = user ?? '';
          rec.password = pass.join(':');
        }
        requests.push(rec);
        let answer: CannedAnswer;
        if (rec.username !== accountSid || rec.password !== authToken) {
          answer = twilioError(401, 20003, 'Authenticate');
        } else {
          const acctMatch = /^\/2010-04-01\/Accounts\/([^/]+)\//.exec(rec.path);
          if (acctMatch && acctMatch[1] !== accountSid) answer = twilioError(403, 20003, 'Account mismatch');
          for (const r of [...scripted].reverse().concat(builtIn)) {
            if (answer) break;
            if (r.method !== rec.method) continue;
            const m = rec.path.match(r.path);
            if (m) answer = await r.handler(rec, m);
          }
          answer ??= twilioError(404, 20404, `The requested resource ${rec.path} was not found`);
        }
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer.body));
        for (const w of [...waiters]) w();
      })().catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: String(err) }));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accountSid,
    authToken,
    requests,
    numbers,
    calls,
    whenCall: (pred) =>
      new Promise<FakeCall>((resolve) => {
        const check = () => {
          const c = calls.find(pred);
          if (!c) return;
          waiters.delete(check);
          resolve(c);
        };
        waiters.add(check);
        check();
      }),
    on: (method, path, handler) => scripted.push({ method: method.toUpperCase(), path, handler }),
    now: clock,
    phone: (to) => {
      const p = phones?.get(to);
      if (!p) throw new Error(`no phone scripted for ${to}`);
      return p;
    },
    setPhone: (to, script) => {
      if (!phones) throw new Error('setPhone needs startFakeTwilioRest({ phones: {...} })');
      return phones.set(to, script);
    },
    close: async () => {
      await phones?.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
