/**
 * X-Twilio-Signature checks for webhooks and for the Media Streams WebSocket upgrade, as
 * Twilio signs them: an HMAC of the full public URL, plus a POST's form parameters (the
 * upgrade is a GET: the URL alone). The twilio package computes the HMAC; we only decide which
 * URL and parameters it covers.
 */
import twilio from 'twilio';

/**
 * Checks a signed POST webhook: full public URL (with query) and the form parameters. A form
 * that repeats a parameter is never valid: Twilio sends each once, and the handlers read one
 * value per name, so a second `To=` must not ride on a signature made without it.
 */
export function isValidWebhookSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, unknown>,
): boolean {
  if (!signature) return false;
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(params ?? {})) {
    if (typeof v !== 'string') return false;
    flat[k] = v;
  }
  return validate(authToken, signature, url, flat);
}

/** The names a parsed form gives more than once (urlencoded parsing turns them into arrays). */
export function repeatedParameters(form: unknown): string[] {
  if (form === null || typeof form !== 'object') return [];
  return Object.entries(form as Record<string, unknown>)
    .filter(([, v]) => typeof v !== 'string')
    .map(([k]) => k);
}

/** Checks the WebSocket handshake: signed over the exact ws(s)://host/path URL, no parameters. */
export function isValidUpgradeSignature(authToken: string, signature: string | undefined, wsUrl: string): boolean {
  if (!signature) return false;
  return validate(authToken, signature, wsUrl, {});
}

/**
 * twilio.validateRequest throws (new URL) when the URL does not parse, e.g. a forged Host or
 * X-Forwarded-Host header: that is an invalid signature, not an error (an exception in the
 * upgrade handler would take the whole process down).
 */
function validate(authToken: string, signature: string, url: string, params: Record<string, string>): boolean {
  try {
    return twilio.validateRequest(authToken, signature, url, params);
  } catch {
    return false;
  }
}
