/**
 * `npm run twilio:configure`: point a phone number's voice webhook at the bridge, through the
 * product's REST client (src/index.ts). Not part of the runtime.
 */
import type { TwilioRestClient } from '../../src/index.js';

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
  client: TwilioRestClient,
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
