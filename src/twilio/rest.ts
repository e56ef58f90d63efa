/**
 * The product's Twilio REST client: the two-party line's call control dials agents and ends
 * legs with it (src/session/line/call-control.ts), and `npm run twilio:configure` points a
 * number's voice webhook with it (through src/index.ts). It can be redirected to another base
 * URL (TWILIO_API_BASE_URL; a loopback fake in tests): every request the twilio package builds
 * for https://<product>.twilio.com/... is re-targeted at that base by a RequestClient subclass
 * passed as `httpClient`.
 */
import twilio from 'twilio';

type ClientOpts = NonNullable<Parameters<typeof twilio>[2]>;

/** Rewrites an API URL (https://api.twilio.com/2010-04-01/...) onto baseUrl, keeping path and query. */
export function redirectUri(uri: string, baseUrl: string): string {
  const u = new URL(uri);
  const base = new URL(baseUrl);
  base.pathname = base.pathname.replace(/\/+$/, '') + u.pathname;
  base.search = u.search;
  return base.toString();
}

/** A twilio RequestClient that sends every request to baseUrl (same path, query, auth and body). */
export function redirectingRequestClient(baseUrl: string): twilio.RequestClient {
  const rc = new twilio.RequestClient({ timeout: 15_000 });
  const original = rc.request.bind(rc);
  rc.request = ((opts: { uri: string }) => original({ ...opts, uri: redirectUri(opts.uri, baseUrl) } as never)) as typeof rc.request;
  return rc;
}

export interface TwilioRestOptions {
  accountSid: string;
  authToken: string;
  /** Send REST calls here instead of https://api.twilio.com (tests, proxies). */
  baseUrl?: string;
}

export function createTwilioRestClient(o: TwilioRestOptions): twilio.Twilio {
  const opts: ClientOpts = {};
  if (o.baseUrl) opts.httpClient = redirectingRequestClient(o.baseUrl);
  return twilio(o.accountSid, o.authToken, opts);
}
