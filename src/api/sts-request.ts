/**
 * Parse and validate an ElevenLabs speech-to-speech request exactly as the API does
 * (POST /v1/speech-to-speech/{voice_id}[/stream]), framework-free: a Node IncomingMessage in,
 * a typed request or an error answer out, for the product's ElevenLabs-compatible API. The
 * fake ElevenLabs (tools/fakes/) reads the same API reference on its own, so the tests compare
 * two independent readings.
 *
 * Query: output_format (28 values), enable_logging, optimize_streaming_latency.
 * Multipart form: audio (file, required), model_id, voice_settings (a JSON string), seed
 * (0..4294967295), remove_background_noise, file_format (pcm_s16le_16 | other).
 * Empty form values count as absent, as with FastAPI. The form is read as it streams (busboy),
 * the audio kept once. Errors: 422 with FastAPI's {"detail":[{loc,msg,type}]}; 401
 * {"detail":{"status":"needs_authorization"|"invalid_api_key",...}}; 413 over the size limit.
 * /stream refuses wav_* output (422), as ElevenLabs does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import busboy, { type Busboy } from 'busboy';

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

/** 401 as ElevenLabs answers it: needs_authorization without a key, invalid_api_key with a wrong one. */
export function authError(key: string | undefined): StsErrorAnswer {
  return key
    ? statusError(401, 'invalid_api_key', 'Invalid API key')
    : statusError(401, 'needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.');
}

/** The 21 formats /stream takes: all but wav_*. */
export const STREAM_OUTPUT_FORMATS = OUTPUT_FORMATS.filter((f) => !f.startsWith('wav_'));

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

interface ParsedForm {
  fields: Map<string, string>;
  /** The first "audio" part: as a file, or as a plain field when sent without a filename. */
  audio?: { bytes: Uint8Array; filename: string; contentType: string } | { text: string };
  tooLarge: boolean;
  malformed: boolean;
  /** A form past FORM_LIMITS: what is wrong with it (reading stopped there). */
  overLimit?: ValidationIssue;
}

/**
 * The form's shape, bounded: the API has six fields and one file, none of the fields long (a
 * voice_settings JSON is some 150 bytes). A form past these is refused (422) as soon as it
 * shows, and nothing of it is kept.
 */
export const FORM_LIMITS = { fields: 16, fieldSize: 16 * 1024, fieldNameSize: 100, files: 4, parts: 24, headerPairs: 16 } as const;
/** Body bytes allowed on top of the audio's limit (fields, part headers, boundaries). */
export const FORM_OVERHEAD_BYTES = 256 * 1024;

const FORM_TYPES = /^(multipart\/form-data|application\/x-www-form-urlencoded)/i;

/**
 * Reads a multipart (or urlencoded) form as it streams in, with busboy: fields as strings, the
 * audio part's bytes kept once, every other file part discarded. Stops keeping bytes (and marks
 * tooLarge) at `limit` bytes of audio. Never rejects.
 */
function readForm(req: IncomingMessage, limit: number): Promise<ParsedForm> {
  const form: ParsedForm = { fields: new Map(), tooLarge: false, malformed: false };
  const contentType = req.headers['content-type'] ?? '';
  if (!FORM_TYPES.test(contentType)) {
    req.resume();
    return new Promise((resolve) => {
      if (req.readableEnded) resolve(form);
      else req.once('end', () => resolve(form)).once('error', () => resolve(form)).once('close', () => resolve(form));
    });
  }
  return new Promise((resolve) => {
    let bb: Busboy;
    try {
      bb = busboy({ headers: req.headers, limits: { ...FORM_LIMITS, fileSize: limit } });
    } catch {
      form.malformed = true;
      req.resume();
      resolve(form);
      return;
    }
    let settled = false;
    let kept: Buffer[] = [];
    const done = () => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      req.off('data', count);
      if (!req.readableEnded) req.resume();
      resolve(form);
    };
    const refuse = (issue: ValidationIssue) => {
      form.overLimit ??= issue;
      kept = [];
      done();
    };
    // every byte counted, however the body is framed (a chunked body declares no length)
    let total = 0;
    const count = (c: Buffer) => {
      total += c.length;
      if (total > limit + FORM_OVERHEAD_BYTES) {
        form.tooLarge = true;
        kept = [];
        done();
      }
    };
    req.on('data', count);
    bb.on('field', (name, value, info) => {
      if (info.nameTruncated) return refuse({ loc: ['body'], msg: `a form field name is longer than ${FORM_LIMITS.fieldNameSize} bytes`, type: 'value_error' });
      if (info.valueTruncated) return refuse({ loc: ['body', name], msg: `the form field ${name} is longer than ${FORM_LIMITS.fieldSize / 1024} KB`, type: 'value_error' });
      if (name === 'audio') form.audio ??= { text: value };
      else if (!form.fields.has(name)) form.fields.set(name, value);
    });
    bb.on('fieldsLimit', () => refuse({ loc: ['body'], msg: `the form has more than ${FORM_LIMITS.fields} fields`, type: 'value_error' }));
    bb.on('filesLimit', () => refuse({ loc: ['body'], msg: `the form has more than ${FORM_LIMITS.files} files`, type: 'value_error' }));
    bb.on('partsLimit', () => refuse({ loc: ['body'], msg: `the form has more than ${FORM_LIMITS.parts} parts`, type: 'value_error' }));
    bb.on('file', (name, stream, info) => {
      if (name !== 'audio' || form.audio !== undefined) {
        stream.resume();
        return;
      }
      const entry: { bytes: Uint8Array; filename: string; contentType: string } = { bytes: new Uint8Array(0), filename: info.filename ?? 'blob', contentType: info.mimeType || 'application/octet-stream' };
      form.audio = entry;
      stream.on('data', (c: Buffer) => {
        if (!settled) kept.push(c);
      });
      stream.on('limit', () => {
        form.tooLarge = true;
        kept = [];
      });
      stream.on('end', () => {
        if (!form.tooLarge && !settled) entry.bytes = kept.length === 1 ? kept[0]! : Buffer.concat(kept);
        kept = [];
      });
    });
    bb.on('error', () => {
      form.malformed = true;
      done();
    });
    bb.on('close', done);
    req.on('aborted', done);
    req.on('error', done);
    req.pipe(bb);
  });
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
      return fail(authError(key));
    }
  }

  const issues: ValidationIssue[] = [];
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = Object.fromEntries(url.searchParams);

  let outputFormat: OutputFormat = DEFAULT_OUTPUT_FORMAT;
  const of = url.searchParams.get('output_format');
  if (of !== null) {
    const allowed: readonly string[] = opts.stream ? STREAM_OUTPUT_FORMATS : OUTPUT_FORMATS;
    if (allowed.includes(of)) outputFormat = of as OutputFormat;
    else issues.push({ loc: ['query', 'output_format'], msg: `Input should be ${allowed.map((f) => `'${f}'`).join(', ')}`, type: 'enum' });
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
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => statusError(413, 'payload_too_large', `The audio file is over the ${Math.round(limit / 1024 / 1024)} MB limit`);
  if (Number.isFinite(declared) && declared > limit + FORM_OVERHEAD_BYTES) return fail(tooLarge());
  const form = await readForm(req, limit);
  // (a body still arriving is not drained: the connection closes after the answer)
  if (form.tooLarge) return fail({ ...tooLarge(), headers: { connection: 'close' } });
  if (form.overLimit) return fail({ ...validationError([form.overLimit]), headers: { connection: 'close' } });
  if (form.malformed) issues.push({ loc: ['body'], msg: 'There was an error parsing the body', type: 'value_error' });
  // Empty values count as absent (FastAPI form semantics).
  const field = (name: string): string | undefined => {
    const v = form.fields.get(name);
    return v !== undefined && v !== '' ? v : undefined;
  };
  const fields: Record<string, string> = Object.fromEntries(form.fields);

  let audio: StsRequest['audio'] | undefined;
  const a = form.audio;
  if (a === undefined || ('text' in a && a.text === '')) {
    // (no "missing" on top of an unparsable body)
    if (!form.malformed) issues.push({ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' });
  } else if ('text' in a) {
    issues.push({ loc: ['body', 'audio'], msg: `Expected UploadFile, received: <class 'str'>`, type: 'value_error' });
  } else {
    audio = a;
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
