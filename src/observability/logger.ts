/**
 * pino set-up: one root logger, a child per call (bound to callSid and streamSid).
 * Secrets are redacted by path; phone numbers are masked with maskPhone before they are logged.
 * Audio bytes are never logged: log sizes and durations instead.
 */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'apiKey',
  'authToken',
  '*.apiKey',
  '*.authToken',
  'headers["xi-api-key"]',
  'headers["x-twilio-signature"]',
  'req.headers["xi-api-key"]',
  'req.headers["x-twilio-signature"]',
  'config.ELEVENLABS_API_KEY',
  'config.TWILIO_AUTH_TOKEN',
  'ELEVENLABS_API_KEY',
  'TWILIO_AUTH_TOKEN',
  'config.ADMIN_TOKEN',
  'ADMIN_TOKEN',
  'payload',
  '*.payload',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'voice-mask' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** "+14155551234" -> "+*******1234". Keeps the last four digits so calls stay traceable. */
export function maskPhone(value: string | undefined | null): string | undefined {
  if (!value) return undefined;
  const digits = value.replace(/\D/g, '');
  if (digits.length <= 4) return value.replace(/./g, '*');
  const prefix = value.startsWith('+') ? '+' : '';
  return `${prefix}${'*'.repeat(digits.length - 4)}${digits.slice(-4)}`;
}

/** "+14155551234" -> "1234": the last four digits (what the operator console shows of a caller), or undefined. */
export function lastFour(value: string | undefined | null): string | undefined {
  const digits = value?.replace(/\D/g, '') ?? '';
  return digits.length >= 4 ? digits.slice(-4) : undefined;
}

/** Masks anything that looks like a phone number (or sip/client address) in free text. */
export function maskPhonesIn(text: string): string {
  return text.replace(/\+?\d[\d\s().-]{6,}\d/g, (m) => maskPhone(m) ?? '');
}
