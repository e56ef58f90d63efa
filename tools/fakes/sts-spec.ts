/**
 * The speech-to-speech request as ElevenLabs' API reference describes it (the convert and
 * stream endpoints' OpenAPI schema, their error answers and limits), for the fake ElevenLabs
 * server: path, key, query parameters and multipart form validated into a FakeStsRequest or an
 * error answer. Written from the reference alone: imports nothing from src/.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseMultipart, type FormPart } from './multipart.js';

/** The 28 output formats of the convert endpoint (openapi enum). */
export const SPEC_OUTPUT_FORMATS = [
  'alaw_8000', 'mp3_22050_32', 'mp3_24000_48', 'mp3_44100_128', 'mp3_44100_192', 'mp3_44100_32', 'mp3_44100_64', 'mp3_44100_96',
  'opus_48000_128', 'opus_48000_192', 'opus_48000_32', 'opus_48000_64', 'opus_48000_96',
  'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_32000', 'pcm_44100', 'pcm_48000', 'pcm_8000', 'ulaw_8000',
  'wav_16000', 'wav_22050', 'wav_24000', 'wav_32000', 'wav_44100', 'wav_48000', 'wav_8000',
] as const;
/** /stream takes the 21 that are not wav_*. */
export const SPEC_STREAM_OUTPUT_FORMATS = SPEC_OUTPUT_FORMATS.filter((f) => !f.startsWith('wav_'));
/** Models with can_do_voice_conversion (GET /v1/models). */
export const SPEC_STS_MODELS = ['eleven_english_sts_v2', 'eleven_multilingual_sts_v2'] as const;
export const SPEC_MAX_SEED = 4294967295;

/** A request the fake accepted, field by field as the spec names them. */
export interface FakeStsRequest {
  voiceId: string;
  stream: boolean;
  outputFormat: string;
  enableLogging: boolean;
  optimizeStreamingLatency: number | null;
  audio: { bytes: Uint8Array; filename: string; contentType: string };
  modelId: string;
  voiceSettings: { raw: string; value: Record<string, unknown> } | null;
  seed: number | null;
  removeBackgroundNoise: boolean;
  fileFormat: 'pcm_s16le_16' | 'other';
  fields: Record<string, string>;
  query: Record<string, string>;
}

export interface ErrorAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}
export interface Issue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}
export const statusError = (status: number, code: string, message: string, headers?: Record<string, string>): ErrorAnswer => ({
  status,
  body: { detail: { status: code, message } },
  ...(headers && { headers }),
});
export const validationError = (issues: Issue[]): ErrorAnswer => ({ status: 422, body: { detail: issues } });

export function sendError(res: ServerResponse, e: ErrorAnswer): void {
  const text = JSON.stringify(e.body);
  res.writeHead(e.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-trace-id': randomUUID(), ...e.headers });
  res.end(text);
}

// FastAPI/pydantic lax booleans and integers
const TRUE = ['true', '1', 'yes', 'on', 't', 'y'];
const FALSE = ['false', '0', 'no', 'off', 'f', 'n'];
const bool = (v: string): boolean | undefined => (TRUE.includes(v.trim().toLowerCase()) ? true : FALSE.includes(v.trim().toLowerCase()) ? false : undefined);
const int = (v: string): number | undefined => (/^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : undefined);
const boolIssue = (loc: Issue['loc']): Issue => ({ loc, msg: 'Input should be a valid boolean, unable to interpret input', type: 'bool_parsing' });
const intIssue = (loc: Issue['loc']): Issue => ({ loc, msg: 'Input should be a valid integer, unable to parse string as an integer', type: 'int_parsing' });
const enumMsg = (values: readonly string[]) => `Input should be ${values.slice(0, -1).map((v) => `'${v}'`).join(', ')} or '${values.at(-1)}'`;

/** Reads the body, keeping at most `keep` bytes (the rest is drained); `over` tells whether more came. */
async function readBody(req: IncomingMessage, keep: number): Promise<{ body: Buffer; over: boolean }> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    total += c.length;
    if (total <= keep) parts.push(c);
  }
  return { body: Buffer.concat(parts), over: total > keep };
}

/** Validates one request as the spec describes it: the accepted request, or the error to answer. */
export async function validate(
  req: IncomingMessage,
  route: { voiceId: string; stream: boolean },
  o: { apiKey: string | null; maxBytes: number; voices?: string[] },
): Promise<{ ok: true; request: FakeStsRequest } | { ok: false; error: ErrorAnswer; fields?: Record<string, string> }> {
  const header = req.headers['xi-api-key'];
  const key = Array.isArray(header) ? header[0] : header;
  if (o.apiKey !== null && key !== o.apiKey) {
    req.resume();
    return {
      ok: false,
      error: key
        ? statusError(401, 'invalid_api_key', 'Invalid API key')
        : statusError(401, 'needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.'),
    };
  }
  const url = new URL(req.url ?? '/', 'http://fake');
  const query = Object.fromEntries(url.searchParams);
  const issues: Issue[] = [];

  const formats: readonly string[] = route.stream ? SPEC_STREAM_OUTPUT_FORMATS : SPEC_OUTPUT_FORMATS;
  const outputFormat = query['output_format'] ?? 'mp3_44100_128';
  if (!formats.includes(outputFormat)) issues.push({ loc: ['query', 'output_format'], msg: enumMsg(formats), type: 'enum' });
  let enableLogging = true;
  if (query['enable_logging'] !== undefined) {
    const b = bool(query['enable_logging']);
    if (b === undefined) issues.push(boolIssue(['query', 'enable_logging']));
    else enableLogging = b;
  }
  let optimizeStreamingLatency: number | null = null;
  if (query['optimize_streaming_latency'] !== undefined && query['optimize_streaming_latency'] !== '') {
    const n = int(query['optimize_streaming_latency']);
    if (n === undefined) issues.push(intIssue(['query', 'optimize_streaming_latency']));
    else optimizeStreamingLatency = n;
  }

  const tooLarge = statusError(413, 'payload_too_large', `The audio file is over the ${Math.round(o.maxBytes / 1024 / 1024)} MB limit`);
  const slack = 1024 * 1024; // the other form fields are small
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > o.maxBytes + slack) {
    req.resume();
    return { ok: false, error: tooLarge };
  }
  const { body, over } = await readBody(req, o.maxBytes + slack);
  if (over) return { ok: false, error: tooLarge };

  const parts = parseMultipart(body, req.headers['content-type']);
  if (parts === null && /^multipart\//i.test(req.headers['content-type'] ?? '')) {
    issues.push({ loc: ['body'], msg: 'There was an error parsing the body', type: 'value_error' });
  }
  const fields: Record<string, string> = {};
  let audioPart: FormPart | undefined;
  for (const p of parts ?? []) {
    if (p.name === 'audio') audioPart ??= p;
    else if (!(p.name in fields)) fields[p.name] = p.data.toString('utf8');
  }
  const field = (name: string): string | undefined => (fields[name] === '' ? undefined : fields[name]);

  let audio: FakeStsRequest['audio'] | undefined;
  if (audioPart === undefined || (audioPart.filename === undefined && audioPart.data.length === 0)) {
    if (parts !== null || !/^multipart\//i.test(req.headers['content-type'] ?? '')) issues.push({ loc: ['body', 'audio'], msg: 'Field required', type: 'missing' });
  } else if (audioPart.filename === undefined) {
    issues.push({ loc: ['body', 'audio'], msg: `Expected UploadFile, received: <class 'str'>`, type: 'value_error' });
  } else {
    if (audioPart.data.length > o.maxBytes) return { ok: false, error: tooLarge, fields };
    audio = { bytes: new Uint8Array(audioPart.data), filename: audioPart.filename, contentType: audioPart.contentType ?? 'application/octet-stream' };
  }

  const modelId = field('model_id') ?? 'eleven_english_sts_v2';
  let voiceSettings: FakeStsRequest['voiceSettings'] = null;
  const vs = field('voice_settings');
  if (vs !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(vs);
    } catch {
      value = undefined;
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) voiceSettings = { raw: vs, value: value as Record<string, unknown> };
    else issues.push({ loc: ['body', 'voice_settings'], msg: 'Invalid JSON: expected a JSON object string', type: 'json_invalid' });
  }
  let seed: number | null = null;
  const s = field('seed');
  if (s !== undefined) {
    const n = int(s);
    if (n === undefined) issues.push(intIssue(['body', 'seed']));
    else if (n < 0) issues.push({ loc: ['body', 'seed'], msg: 'Input should be greater than or equal to 0', type: 'greater_than_equal' });
    else if (n > SPEC_MAX_SEED) issues.push({ loc: ['body', 'seed'], msg: `Input should be less than or equal to ${SPEC_MAX_SEED}`, type: 'less_than_equal' });
    else seed = n;
  }
  let removeBackgroundNoise = false;
  const rbn = field('remove_background_noise');
  if (rbn !== undefined) {
    const b = bool(rbn);
    if (b === undefined) issues.push(boolIssue(['body', 'remove_background_noise']));
    else removeBackgroundNoise = b;
  }
  let fileFormat: FakeStsRequest['fileFormat'] = 'other';
  const ff = field('file_format');
  if (ff !== undefined) {
    if (ff === 'pcm_s16le_16' || ff === 'other') fileFormat = ff;
    else issues.push({ loc: ['body', 'file_format'], msg: "Input should be 'pcm_s16le_16' or 'other'", type: 'enum' });
  }

  if (issues.length > 0 || audio === undefined) return { ok: false, error: validationError(issues), fields };
  if (!(SPEC_STS_MODELS as readonly string[]).includes(modelId)) {
    return { ok: false, error: statusError(400, 'model_not_found', `A model with model ID ${modelId} does not exist or cannot do voice conversion`), fields };
  }
  if (o.voices && !o.voices.includes(route.voiceId)) {
    return { ok: false, error: statusError(404, 'voice_not_found', `A voice with the voice_id ${route.voiceId} was not found.`), fields };
  }
  return {
    ok: true,
    request: { ...route, outputFormat, enableLogging, optimizeStreamingLatency, audio, modelId, voiceSettings, seed, removeBackgroundNoise, fileFormat, fields, query },
  };
}

/** Matches /v1/speech-to-speech/{voice_id}[/stream] under `prefix`. */
export function matchPath(pathname: string, prefix: string): { voiceId: string; stream: boolean } | null {
  if (!pathname.startsWith(prefix)) return null;
  const m = /^\/v1\/speech-to-speech\/([^/]+)(\/stream)?\/?$/.exec(pathname.slice(prefix.length));
  if (!m) return null;
  try {
    return { voiceId: decodeURIComponent(m[1]!), stream: m[2] !== undefined };
  } catch {
    return null;
  }
}
