import { randomBytes } from 'node:crypto';

/** A Twilio-style SID: two-letter prefix + 32 lowercase hex digits. */
export function randomSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}
