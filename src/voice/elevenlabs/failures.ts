/**
 * ElevenLabs' failures as ConversionErrors: an error answer (its status, its code, its
 * Retry-After) or a transport failure (timeout or network, before or after the first byte).
 * These only describe what happened; what it means to the retries, the circuit and the
 * fallback is the table's in ../errors.ts.
 *
 * Bodies come in two shapes: `{"detail":{"status":"too_many_concurrent_requests","message":"..."}}`
 * and the 422 validation shape `{"detail":[{"loc":["body","seed"],"msg":"...","type":"..."}]}`.
 */
import { ConversionError } from '../errors.js';
import { parseRetryAfter } from './headers.js';

export interface ErrorDetail {
  /** detail.status, or the first validation error's type. */
  code?: string;
  message: string;
}

/** Reads whatever an error body says, without trusting its shape. */
export function parseErrorBody(text: string): ErrorDetail | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    const t = text.trim();
    return t ? { message: t.slice(0, 300) } : undefined;
  }
  if (json === null || typeof json !== 'object') return undefined;
  const detail = (json as { detail?: unknown }).detail;
  if (typeof detail === 'string') return { message: detail };
  if (Array.isArray(detail)) {
    const parts = detail.map((d) => {
      const e = (d ?? {}) as { loc?: unknown; msg?: unknown; type?: unknown };
      const loc = Array.isArray(e.loc) ? e.loc.join('.') : '?';
      return { text: `${loc}: ${typeof e.msg === 'string' ? e.msg : 'invalid'}`, type: typeof e.type === 'string' ? e.type : undefined };
    });
    return { code: parts[0]?.type, message: parts.map((p) => p.text).join('; ') || 'validation error' };
  }
  if (detail !== null && typeof detail === 'object') {
    const d = detail as { status?: unknown; message?: unknown };
    return {
      code: typeof d.status === 'string' ? d.status : undefined,
      message: typeof d.message === 'string' ? d.message : typeof d.status === 'string' ? d.status : 'error',
    };
  }
  return undefined;
}

export function errorFromResponse(status: number, headers: Record<string, string | string[] | undefined>, bodyText: string): ConversionError {
  const detail = parseErrorBody(bodyText);
  const retryAfterMs = parseRetryAfter(headers);
  const what = detail?.code ? `${detail.code}: ${detail.message}` : (detail?.message ?? 'no details');
  return ConversionError.fromStatus(status, `ElevenLabs answered ${status} (${what})`, {
    ...(detail?.code !== undefined && { code: detail.code }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  });
}

/** undici's codes for a deadline passed (the rest of its failures are the network's). */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A transport failure (reset, refused, closed, undici's own deadlines). */
export function errorFromTransport(err: unknown, afterFirstByte: boolean): ConversionError {
  const code = (err as { code?: string } | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  const kind = code !== undefined && TIMEOUT_CODES.has(code) ? 'timeout' : 'network';
  const what = `ElevenLabs ${kind === 'timeout' ? 'timed out' : 'connection failed'}${afterFirstByte ? ' mid-stream' : ''}: ${code ?? ''} ${msg}`.trim();
  return new ConversionError(what, kind, { ...(code !== undefined && { code }), afterFirstByte, cause: err });
}
