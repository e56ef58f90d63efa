/**
 * Twilio REST set-up: point a phone number's voice webhook at the bridge. The client can be
 * redirected to another base URL (a loopback fake in tests, TWILIO_API_BASE_URL in config):
 * every request the twilio package builds for https://<product>.twilio.com/... is re-targeted
 * at that base by a RequestClient subclass passed as `httpClient`.
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

export interface VoiceUrlChange {
  sid: string;
  phoneNumber: string;
  before: { voiceUrl: string; voiceMethod: string };
  after: { voiceUrl: string; voiceMethod: string };
  changed: boolean;
  dryRun: boolean;
}

export class ConfigureError extends Error {
  override name = 'ConfigureError';
}

/** Normalises a bridge base URL + webhook path into the voice URL. */
export function voiceUrlFor(baseUrl: string, path = '/twiml/inbound'): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new ConfigureError(`--url must be an absolute URL, got "${baseUrl}"`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new ConfigureError(`--url must be http(s), got "${baseUrl}"`);
  return baseUrl.replace(/\/+$/, '') + (path.startsWith('/') ? path : `/${path}`);
}

/** Finds the incoming number and sets its voice webhook (POST). With dryRun, only reports. */
export async function configureVoiceUrl(
  client: twilio.Twilio,
  o: { number: string; url: string; path?: string; dryRun?: boolean },
): Promise<VoiceUrlChange> {
  const voiceUrl = voiceUrlFor(o.url, o.path);
  const found = await client.incomingPhoneNumbers.list({ phoneNumber: o.number, limit: 20 });
  const match = found.find((n) => n.phoneNumber === o.number) ?? (found.length === 1 ? found[0] : undefined);
  if (!match) throw new ConfigureError(`phone number ${o.number} is not an incoming number on this account (found ${found.length})`);
  const before = { voiceUrl: match.voiceUrl ?? '', voiceMethod: match.voiceMethod ?? '' };
  const after = { voiceUrl, voiceMethod: 'POST' };
  const changed = before.voiceUrl !== after.voiceUrl || before.voiceMethod.toUpperCase() !== 'POST';
  if (changed && !o.dryRun) {
    const updated = await client.incomingPhoneNumbers(match.sid).update({ voiceUrl, voiceMethod: 'POST' });
    after.voiceUrl = updated.voiceUrl;
    after.voiceMethod = updated.voiceMethod;
  }
  return { sid: match.sid, phoneNumber: match.phoneNumber, before, after, changed, dryRun: o.dryRun === true };
}
