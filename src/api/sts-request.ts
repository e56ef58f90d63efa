/**
 * Parse and validate an ElevenLabs speech-to-speech request exactly as the API does
 * (POST /v1/speech-to-speech/{voice_id}[/stream]), framework-free: a Node IncomingMessage in,
 * a typed request or an error answer out. Shared by the fake ElevenLabs server in the tests
 * and the product's ElevenLabs-compatible API.
 *
 * Query: output_format (28 values), enable_logging, optimize_streaming_latency.
 * Multipart form: audio (file, required), model_id, voice_settings (a JSON string), seed
 * (0..4294967295), remove_background_noise, file_format (pcm_s16le_16 | other).
 * Empty form values count as absent, as with FastAPI. Errors: 422 with FastAPI's
 * {"detail":[{loc,msg,type}]}, 401 {"detail":{"status":"invalid_api_key",...}}.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const OUTPUT_FORMATS = [
  'alaw_8000',
  'mp3_22050_32',
  'mp3_24000_48',
  'mp3_44100_128',
  'mp3_44100_192',
  'mp3_44100_32',
  'mp3_44100_64',
  'mp3_44100_96',
  'opus_48000_128',
  'opus_48000_192',
  'opus_48000_32',
  'opus_48000_64',
  'opus_48000_96',
  'pcm_16000',
  'pcm_22050',
  'pcm_24000',
  'pcm_32000',
  'pcm_44100',
  'pcm_48000',
  'pcm_8000',
  'ulaw_8000',
  'wav_16000',
  'wav_22050',
  'wav_24000',
  'wav_32000',
  'wav_44100',
  'wav_48000',
  'wav_8000',
] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export const DEFAULT_OUTPUT_FORMAT: OutputFormat = 'mp3_44100_128';
export const DEFAULT_STS_MODEL = 'eleven_english_sts_v2';
export const FILE_FORMATS = ['pcm_s16le_16', 'other'] as const;
export type FileFormat = (typeof FILE_FORMATS)[number];
export const MAX_SEED = 4294967295;
/** ElevenLabs' per-request input limit. */
export const MAX_STS_BODY_BYTES = 50 * 1024 * 1024;

export interface StsRequest {
  voiceId: string;
  /** true for .../stream */
  stream: boolean;
  outputFormat: OutputFormat;
  enableLogging: boolean;
  optimizeStreamingLatency: number | null;
  audio: { bytes: Uint8Array; filename: string; contentType: string };
  modelId: string;
  /** The JSON string as sent, and parsed. */
  voiceSettings: { raw: string; value: Record<string, unknown> } | null;
  seed: number | null;
  removeBackgroundNoise: boolean;
  fileFormat: FileFormat;
  /** Every form field except audio, as sent (strings), for recording. */
  fields: Record<string, string>;
  query: Record<string, string>;
}

export interface ValidationIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

/** An error answer: status, JSON body, extra headers. */
export interface StsErrorAnswer {
  status: number;
  body: { detail: ValidationIssue[] | { status: string; message: string } };
  headers?: Record<string, string>;
}

export type StsParseResult = { ok: true; request: StsRequest } | { ok: false; error: StsErrorAnswer };

export interface StsParseOptions {
  voiceId: string;
  stream: boolean;
  /** Key check: return true to accept. Omitted: no check. Receives undefined when no xi-api-key header. */
  checkKey?: (key: string | undefined) => boolean | Promise<boolean>;
  maxBodyBytes?: number;
}

/** Matches /v1/speech-to-speech/{voice_id} and /v1/speech-to-speech/{voice_id}/stream (after any prefix). */
export function matchStsPath(pathname: string, prefix = ''): { voiceId: string; stream: boolean } | null {
  if (!pathname.startsWith(prefix)) return null;
  const m = /^\/v1\/speech-to-speech\/([^/]+)(\/stream)?\/?$/.exec(pathname.slice(prefix.length));
  if (!m) return null;
  let voiceId: string;
  try {
    voiceId = decodeURIComponent(m[1]!);
  } catch {
    return null;
  }
  return { voiceId, stream: m[2] !== undefined };
}

export function validationError(issues: ValidationIssue[]): StsErrorAnswer {
  return { status: 422, body: { detail: issues } };
}

export function statusError(status: number, code: string, message: string, headers?: Record<string, string>): StsErrorAnswer {
  return { status, body: { detail: { status: code, message } }, ...(headers && { headers }) };
}

/** Writes an error answer as JSON. */
export function sendStsError(res: ServerResponse, err: StsErrorAnswer): void {
  const body = JSON.stringify(err.body);
  res.writeHead(err.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...err.headers });
  res.end(body);
}

// pydantic's lax boolean parsing
const TRUE = new Set(['true', '1', 'yes', 'on', 't', 'y']);
const FALSE = new Set(['false', '0', 'no', 'off', 'f', 'n']);
function parseBool(v: string): boolean | undefined {
  const s = v.trim().toLowerCase();
  return TRUE.has(s) ? true : FALSE.has(s) ? false : undefined;
}
const boolIssue = (loc: ValidationIssue['loc']): ValidationIssue => ({ loc, msg: 'Input should be a valid boolean, unable to interpret input', type: 'bool_parsing' });
const intIssue = (loc: ValidationIssue['loc']): ValidationIssue => ({ loc, msg: 'Input should be a valid integer, unable to parse string as an integer', type: 'int_parsing' });
const isInt = (v: string) => /^\s*[-+]?\d+\s*$/.test(v);

/** Reads the body up to a limit; undefined when the limit is exceeded. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return undefined;
  }
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.byteLength;
    if (n > limit) {
      req.resume();
      return undefined;
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

export async function parseStsRequest(req: IncomingMessage, opts: StsParseOptions): Promise<StsParseResult> {
  const fail = (error: StsErrorAnswer): StsParseResult => {
    if (!req.readableEnded) req.resume();
    return { ok: false, error };
  };
  if (opts.checkKey) {
    const header = req.headers['xi-api-key'];
    const key = Array.isArray(header) ? header[0] : header;
    if (!(await opts.checkKey(key))) {
      return fail(statusError(401, 'invalid_api_key', key ? 'Invalid API key' : 'Missing xi-api-key header: an API key is required'));
    }
  }

  const issues: ValidationIssue[] = [];
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = Object.fromEntries(url.searchParams);

  let outputFormat: OutputFormat = DEFAULT_OUTPUT_FORMAT;
  const of = url.searchParams.get('output_format');
  if (of !== null) {
    if ((OUTPUT_FORMATS as readonly string[]).includes(of)) outputFormat = of as OutputFormat;
    else issues.push({ loc: ['query', 'output_format'], msg: `Input should be ${OUTPUT_FORMATS.map((f) => `'${f}'`).join(', ')}`, type: 'enum' });
  }
  let enableLogging = true;
  const el = url.searchParams.get('enable_logging');
  if (el !== null) {
    const b = parseBool(el);
    if (b === undefined) issues.push(boolIssue(['query', 'enable_logging']));
    else enableLogging = b;
  }
  let optimizeStreamingLatency: number | null = null;
  const osl = url.searchParams.get('optimize_streaming_latency');
  if (osl !== null && osl !== '') {
    if (isInt(osl)) optimizeStreamingLatency = Number(osl);
    else issues.push(intIssue(['query', 'optimize_streaming_latency']));
  }

  const limit = opts.maxBodyBytes ?? MAX_STS_BODY_BYTES;
  const body = await readBody(req, limit);
  if (body === undefined) {
    return fail(statusError(413, 'payload_too_large', `The request body is over the ${Math.round(limit / 1024 / 1024)} MB limit`));
  }
  const contentType = req.headers['content-type'] ?? '';
  let form: FormData | undefined;
  if (/^multipart\/form-data/i.test(contentType) || /^application\/x-www-form-urlencoded/i.test(contentType)) {
    try {
      form = await new Response(body, { headers: { 'content-type': contentType } }).formData();
    } catch {
      issues.push({ loc: ['body'], msg: 'There was an error parsing the body', type: 'value_error' });
    }
  }
  // Empty values count as absent (FastAPI form semantics).
  const field = (name: string): string | undefined => {
    const v = form?.get(name);
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const fields: Record<string, string> = {};
  form?.forEach((v, k) => {
    if (typeof v === 'string') fields[k] = v;
  });

  let audio: StsRequest['audio'] | undefined;
  const a = form?.get('audio');
  if (a === null || a === undefined || a === '') {
    // (no "missing" on top of an unparsable body)
    if (!issues.some((i) => i.loc.length === 1 && i.loc[0] === 'body')) issues.push({ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' });
  } else if (typeof a === 'string') {
    issues.push({ loc: ['body', 'audio'], msg: `Expected UploadFile, received: <class 'str'>`, type: 'value_error' });
  } else {
    audio = { bytes: new Uint8Array(await a.arrayBuffer()), filename: (a as File).name ?? 'blob', contentType: a.type || 'application/octet-stream' };
  }

  const modelId = field('model_id') ?? DEFAULT_STS_MODEL;

  let voiceSettings: StsRequest['voiceSettings'] = null;
  const vs = field('voice_settings');
  if (vs !== undefined) {
    try {
      const value: unknown = JSON.parse(vs);
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
      voiceSettings = { raw: vs, value: value as Record<string, unknown> };
    } catch {
      issues.push({ loc: ['body', 'voice_settings'], msg: 'Invalid JSON: expected a JSON object string', type: 'json_invalid' });
    }
  }

  let seed: number | null = null;
  const s = field('seed');
  if (s !== undefined) {
    if (!isInt(s)) issues.push(intIssue(['body', 'seed']));
    else {
      const n = Number(s);
      if (n < 0) issues.push({ loc: ['body', 'seed'], msg: 'Input should be greater than or equal to 0', type: 'greater_than_equal' });
      else if (n > MAX_SEED) issues.push({ loc: ['body', 'seed'], msg: `Input should be less than or equal to ${MAX_SEED}`, type: 'less_than_equal' });
      else seed = n;
    }
  }

  let removeBackgroundNoise = false;
  const rbn = field('remove_background_noise');
  if (rbn !== undefined) {
    const b = parseBool(rbn);
    if (b === undefined) issues.push(boolIssue(['body', 'remove_background_noise']));
    else removeBackgroundNoise = b;
  }

  let fileFormat: FileFormat = 'other';
  const ff = field('file_format');
  if (ff !== undefined) {
    if ((FILE_FORMATS as readonly string[]).includes(ff)) fileFormat = ff as FileFormat;
    else issues.push({ loc: ['body', 'file_format'], msg: "Input should be 'pcm_s16le_16' or 'other'", type: 'enum' });
  }

  if (issues.length > 0 || audio === undefined) return fail(validationError(issues));
  return {
    ok: true,
    request: {
      voiceId: opts.voiceId,
      stream: opts.stream,
      outputFormat,
      enableLogging,
      optimizeStreamingLatency,
      audio,
      modelId,
      voiceSettings,
      seed,
      removeBackgroundNoise,
      fileFormat,
      fields,
      query,
    },
  };
}
