/** X-Twilio-Signature, computed the way Twilio does (through the twilio package itself). */
import twilio from 'twilio';

/** base64 HMAC-SHA1 over url + sorted params (name immediately followed by value). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string> = {}): string {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
