/**
 * ElevenLabs error answers → ConversionError.
 *
 * Bodies come in two shapes: `{"detail":{"status":"too_many_concurrent_requests","message":"..."}}`
 * and the 422 validation shape `{"detail":[{"loc":["body","seed"],"msg":"...","type":"..."}]}`.
 * 401/403/422 are permanent; 408, 429 and 5xx are retryable (ConversionError.fromStatus).
 */
import { ConversionError } from '../errors.js';

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

/** Retry-After (delta seconds or an HTTP date), or retry-after-ms, in ms. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const ms = one(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = one(headers['retry-after'])?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export function errorFromResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  bodyText: string,
): ConversionError {
  const detail = parseErrorBody(bodyText);
  const retryAfterMs = parseRetryAfter(headers);
  const what = detail?.code ? `${detail.code}: ${detail.message}` : (detail?.message ?? 'no details');
  return ConversionError.fromStatus(status, `ElevenLabs answered ${status} (${what})`, {
    ...(detail?.code !== undefined && { code: detail.code }),
    ...(retryAfterMs !== undefined && { retryAfterMs }),
  });
}

/** What an answer says of the account's concurrency (elevenlabs-facts.md: sent on generations). */
export interface AccountConcurrency {
  /** maximum-concurrent-requests: the plan's limit, for every process using the key. */
  max?: number;
  /** current-concurrent-requests: requests in flight on the account, this one included. */
  current?: number;
}

/** The two concurrency headers, when present and numeric; undefined when neither is. */
export function readConcurrencyHeaders(headers: Record<string, string | string[] | undefined>): AccountConcurrency | undefined {
  const num = (name: string): number | undefined => {
    const v = headers[name];
    const s = (Array.isArray(v) ? v[0] : v)?.trim();
    return s !== undefined && /^\d{1,6}$/.test(s) ? Number(s) : undefined;
  };
  const max = num('maximum-concurrent-requests');
  const current = num('current-concurrent-requests');
  if (max === undefined && current === undefined) return undefined;
  return { ...(max !== undefined && max > 0 && { max }), ...(current !== undefined && { current }) };
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/** A transport failure (reset, refused, closed): retryable only before the first byte. */
export function errorFromTransport(err: unknown, afterFirstByte: boolean): ConversionError {
  const code = (err as { code?: string } | null)?.code;
  const msg = err instanceof Error ? err.message : String(err);
  const kind = code !== undefined && TIMEOUT_CODES.has(code) ? 'timeout' : 'network';
  return new ConversionError(`ElevenLabs ${kind === 'timeout' ? 'timed out' : 'connection failed'}${afterFirstByte ? ' mid-stream' : ''}: ${code ?? ''} ${msg}`.trim(), kind, !afterFirstByte, {
    ...(code !== undefined && { code }),
    afterFirstByte,
    cause: err,
  });
}
