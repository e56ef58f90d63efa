/**
 * `npm run demo`: the bridge in-process with the embedded (offline) engine on a free loopback
 * port, one simulated phone call with a real speech sample, and what came out of it: the two
 * WAV files, an HTML report and the numbers for the console.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { mulawDecode, encodeWavPcm16 } from '../../src/audio/index.js';
import { loadConfig, createLogger, startServer, LOCAL_VOICES } from '../../src/index.js';
import {
  detectPhrases,
  findLeakedFrames,
  isInformativeFrame,
  loadAudioAsMulaw8k,
  simulateCall,
  summarizeLatencies,
  toFrames,
  type LatencySummary,
  type PhraseLatency,
  type SimulatedCallResult,
} from '../sim/index.js';
import { ProgressTracker, type DemoProgress } from './progress.js';
import { renderReportHtml } from './report-html.js';

/** The bundled sample the demo plays unless told otherwise (CMU ARCTIC aew, three sentences, 11.4 s). */
export const DEFAULT_SAMPLE = fileURLToPath(new URL('../../test/fixtures/en_m_cmuarctic_aew_a0001-a0003_8k_ulaw.wav', import.meta.url));
export const DEFAULT_VOICE = 'neutral-male';
export const DEFAULT_OUT_DIR = 'out';
/** Silence kept flowing after the sample so the last phrase's masked audio arrives. */
const TAIL_MS = 3000;
/** ...but the demo hangs up once every phrase is answered and no masked audio has come for this long. */
const QUIET_END_MS = 800;

export interface DemoOptions {
  /** Any WAV / MP3 / FLAC file; default DEFAULT_SAMPLE. */
  sample?: string;
  /** Embedded-engine voice preset id; default DEFAULT_VOICE. */
  voice?: string;
  /** Output folder (created); default out/ under the working directory. */
  outDir?: string;
  /**
   * Send the caller's audio faster than real time (the simulator's fast mode). The bridge still
   * plays its answer in real time, so the call is no shorter; timeline and latencies are skewed.
   */
  fast?: boolean;
  /** Called about ten times a second during the call, and once at the end. */
  onProgress?: (p: DemoProgress) => void;
  signal?: AbortSignal;
}

export interface DemoResult {
  sample: string;
  files: { original: string; masked: string; report: string };
  engine: string;
  engineLabel: string;
  mode: string;
  voice: { id: string; name: string; description: string };
  realtime: boolean;
  phrases: PhraseLatency[];
  summary: LatencySummary;
  /** Informative input frames whose exact bytes came back (0: the original voice never leaked). */
  leakedFrames: number;
  informativeFrames: number;
  originalMs: number;
  callMs: number;
  /** The sample as the caller sent it and what the caller heard back (8 kHz mu-law). */
  input: Uint8Array;
  heard: Uint8Array;
  /** Bridge log lines at warn level or above. */
  bridgeWarnings: string[];
  call: SimulatedCallResult;
}

export class DemoError extends Error {
  override name = 'DemoError';
}

const ENGINE_LABELS: Record<string, string> = { local: 'Embedded (offline)', elevenlabs: 'ElevenLabs' };

export async function runDemo(o: DemoOptions = {}): Promise<DemoResult> {
  const sample = o.sample ?? DEFAULT_SAMPLE;
  const voiceId = o.voice ?? DEFAULT_VOICE;
  const preset = LOCAL_VOICES.find((v) => v.id === voiceId);
  if (!preset) throw new DemoError(`unknown voice "${voiceId}"; the embedded engine has: ${LOCAL_VOICES.map((v) => v.id).join(', ')}`);
  const outDir = resolve(o.outDir ?? DEFAULT_OUT_DIR);
  const realtime = !o.fast;

  const input = await loadAudioAsMulaw8k(sample);
  if (input.length < 160) throw new DemoError(`${sample}: less than 20 ms of audio`);
  const originalMs = input.length / 8;
  const phrases = detectPhrases(input);
  // Fast mode gets the whole sample in ahead of time, but the bridge still plays out in real
  // time: keep listening long enough to hear all of it (the call ends once idle).
  const tailMs = realtime ? TAIL_MS : originalMs + TAIL_MS;
  const tracker = new ProgressTracker(phrases, originalMs + tailMs);
  let t0 = performance.now();
  let stage: DemoProgress['stage'] = 'starting';
  let finalMs = 0;
  const emit = () => {
    try {
      o.onProgress?.(tracker.snapshot(stage, stage === 'calling' ? performance.now() - t0 : finalMs));
    } catch {
      /* a progress listener must not break the demo */
    }
  };
  emit();

  // Only what the demo needs: nothing from the user's environment (no API key: it is offline).
  // LOCAL_API off: the demo serves one simulated call, not the ElevenLabs-compatible HTTP API.
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', CONVERTER: 'local', LOCAL_VOICE_ID: voiceId, LOCAL_API: 'false' });
  const bridgeWarnings: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line.trim()) bridgeWarnings.push(line);
      cb();
    },
  });
  const server = await startServer(config, { logger: createLogger(config.LOG_LEVEL, sink) });
  let call: SimulatedCallResult;
  // Hang up early once nothing more is coming (the bridge keeps sending silence in streaming mode).
  const hangUp = new AbortController();
  const signal = o.signal ? AbortSignal.any([o.signal, hangUp.signal]) : hangUp.signal;
  const timer = setInterval(() => {
    emit();
    if (stage === 'calling' && tracker.finished(performance.now() - t0, QUIET_END_MS)) hangUp.abort();
  }, 100);
  try {
    call = await simulateCall({
      url: server.url,
      audio: input,
      phrases,
      realtime,
      tailMs,
      signal,
      onProgress: (e) => {
        if (e.type === 'start') {
          t0 = performance.now();
          stage = 'calling';
        } else if (e.type === 'audio-end') tracker.audioEnd(e.atMs);
        else if ('atMs' in e) tracker.event(e.atMs);
      },
      hooks: {
        onMessage: (data, atMs) => {
          if (typeof data !== 'string' || !data.includes('"media"')) return;
          try {
            const m = JSON.parse(data) as { event?: string; media?: { payload?: string } };
            if (m.event === 'media' && typeof m.media?.payload === 'string') tracker.media(atMs, Buffer.from(m.media.payload, 'base64'));
          } catch {
            /* the simulator reports malformed messages itself */
          }
        },
      },
    });
  } finally {
    clearInterval(timer);
    await server.close();
  }

  const heard = call.heard;
  finalMs = heard.length / 8;
  stage = 'writing';
  emit();
  const files = { original: join(outDir, 'demo-original.wav'), masked: join(outDir, 'demo-masked.wav'), report: join(outDir, 'demo-report.html') };
  // PCM16 (decoded from the mu-law, sample for sample): every browser and player takes it.
  const originalPcm = mulawDecode(input);
  const maskedPcm = mulawDecode(heard);
  const originalWav = encodeWavPcm16(originalPcm, 8000);
  const maskedWav = encodeWavPcm16(maskedPcm, 8000);
  const engine = server.profile.engine;
  // What the report and the result both tell.
  const facts = {
    engine,
    engineLabel: ENGINE_LABELS[engine] ?? engine,
    mode: server.profile.mode,
    voice: { id: preset.id, name: preset.name, description: preset.description },
    realtime,
    phrases: call.phrases,
    summary: summarizeLatencies(call.phrases),
    leakedFrames: findLeakedFrames(call.sentFrames, call.receivedAudio),
    informativeFrames: toFrames(input).filter(isInformativeFrame).length,
  };

  const html = renderReportHtml({
    ...facts,
    sampleName: basename(sample),
    generatedAt: new Date(),
    original: { samples: originalPcm, wav: originalWav, fileName: basename(files.original) },
    masked: { samples: maskedPcm, wav: maskedWav, fileName: basename(files.masked) },
  });
  await mkdir(outDir, { recursive: true });
  await Promise.all([writeFile(files.original, originalWav), writeFile(files.masked, maskedWav), writeFile(files.report, html)]);

  stage = 'done';
  emit();
  return { ...facts, sample, files, originalMs, callMs: heard.length / 8, input, heard, bridgeWarnings, call };
}

/** A path as the user would type it: relative to the working directory when inside it. */
export function displayPath(p: string, cwd = process.cwd()): string {
  const r = relative(cwd, p);
  return r && !r.startsWith('..') ? r : p;
}
