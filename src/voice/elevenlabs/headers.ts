/** What ElevenLabs' answer headers say beyond the audio: when to ask again, and the account's concurrency. */

type Headers = Record<string, string | string[] | undefined>;

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Retry-After (delta seconds or an HTTP date), or retry-after-ms, in ms. */
export function parseRetryAfter(headers: Headers, now = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const ra = first(headers['retry-after'])?.trim();
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra)) return Math.round(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** What an answer says of the account's concurrency (sent on generations). */
export interface AccountConcurrency {
  /** maximum-concurrent-requests: the plan's limit, for every process using the key. */
  max?: number;
  /** current-concurrent-requests: requests in flight on the account, this one included. */
  current?: number;
}

/** The two concurrency headers, when present and numeric; undefined when neither is. */
export function readConcurrencyHeaders(headers: Headers): AccountConcurrency | undefined {
  const num = (name: string): number | undefined => {
    const s = first(headers[name])?.trim();
    return s !== undefined && /^\d{1,6}$/.test(s) ? Number(s) : undefined;
  };
  const max = num('maximum-concurrent-requests');
  const current = num('current-concurrent-requests');
  if (max === undefined && current === undefined) return undefined;
  return { ...(max !== undefined && max > 0 && { max }), ...(current !== undefined && { current }) };
}
