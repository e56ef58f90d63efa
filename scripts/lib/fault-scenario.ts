/**
 * One whole call against a bridge whose ElevenLabs misbehaves for the first phrases, then
 * recovers: the fake ElevenLabs (a 300 Hz tone as long as each phrase) behind the fault proxy,
 * a real bridge on loopback (FALLBACK=silence), the simulator speaking Twilio's protocol in
 * real time. Shared by the whole-call fault tests and `npm run bench:faults`.
 *
 * Phrases are told apart by their audio (the proxy hashes it), so a run with a fault can be
 * compared with a clean run of the same call: the VAD cuts the same phrases from the same
 * audio, and a phrase the circuit dropped simply never reaches the proxy.
 */
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer } from '../../src/compose.js';
import { findLeakedFrames, simulateCall, type SimulatedCallResult } from '../../tools/sim/index.js';
import { expectedUlaw, startFakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { FAULTS, startFaultProxy, type ProxiedRequest, type ProxyFault } from '../../tools/fakes/fault-proxy.js';

export const FAULT_KINDS = ['500', '429', 'reset', 'hang', '401', 'quota-401', 'stall', 'truncated'] as const;
export type FaultKindName = (typeof FAULT_KINDS)[number];

export interface ScenarioOptions {
  /** 8 kHz mu-law the caller speaks. */
  audio: Uint8Array;
  /** undefined: a clean run (the reference). */
  kind?: FaultKindName;
  /**
   * The phrases that get the fault, on every attempt: their audio hashes, from a clean run of
   * the same call (`cleanRun.phrases.slice(0, n).map((p) => p.sha1)`), so the fault hits the
   * call's first n phrases even if the circuit keeps some of them from ElevenLabs. Without
   * it, the first `faultedPhrases` phrases the proxy sees (default 2).
   */
  faultHashes?: string[];
  faultedPhrases?: number;
  /** Extra bridge variables (defaults otherwise, FALLBACK=silence). */
  env?: Record<string, string>;
  /** Silence after the audio to collect the last answers (default 6000 ms). */
  tailMs?: number;
}

export interface PhraseOutcome {
  sha1: string;
  /** Phrase length (16 kHz PCM sent), ms. */
  ms: number;
  /** Call time the bridge first sent it, ms. */
  sentAtMs: number;
  faulted: boolean;
  /**
   * ElevenLabs' whole answer reached the bridge (the fake answers 8 mu-law bytes per ms of
   * input). Not when the bridge cancelled the request, e.g. the caller spoke over a long
   * backlog and playback was cleared (barge-in).
   */
  answered: boolean;
  attempts: number;
}

export interface ScenarioResult {
  kind: FaultKindName | 'clean';
  call: SimulatedCallResult;
  requests: ProxiedRequest[];
  /** In the order the bridge first sent them. */
  phrases: PhraseOutcome[];
  /** The call stayed up: the simulator hung up, no protocol errors. */
  callUp: boolean;
  /** Caller frames found in what came back (findLeakedFrames). */
  leakedFrames: number;
  /** Bytes that are neither the fake's tone nor mu-law silence: audio nobody converted. */
  foreignBytes: number;
  /** 20 ms frames of tone the caller heard (through the emulated playout buffer). */
  heardToneMs: number;
  logs: Array<Record<string, unknown>>;
}

const TONE = new Set([...expectedUlaw(1000), 0xff]);

/** 20 ms frames of the heard timeline with any sound in them (mu-law silence is 0xFF). */
export function audibleMs(heard: Uint8Array): number {
  let frames = 0;
  for (let i = 0; i + 160 <= heard.length; i += 160) if (heard.subarray(i, i + 160).some((b) => b !== 0xff)) frames++;
  return frames * 20;
}

export async function runScenario(o: ScenarioOptions): Promise<ScenarioResult> {
  const fake = await startFakeElevenLabs({ apiKey: 'fault-key' });
  const proxy = await startFaultProxy(fake.baseUrl);
  const faulted = o.faultedPhrases ?? 2;
  const fault: ProxyFault | undefined = o.kind ? FAULTS[o.kind] : undefined;
  const hashes = o.faultHashes ? new Set(o.faultHashes) : undefined;
  proxy.setPlan((r) => (fault && (hashes ? hashes.has(r.audioSha1) : r.phrase < faulted) ? fault : undefined));
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const config = loadConfig({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    ELEVENLABS_API_KEY: 'fault-key',
    ELEVENLABS_BASE_URL: proxy.baseUrl,
    ELEVENLABS_VOICE_ID: 'voiceF',
    FALLBACK: 'silence',
    ...o.env,
  });
  const bridge = await startServer(config, { logger: createLogger(config.LOG_LEVEL, sink) });
  let startedAt = performance.now();
  try {
    const call = await simulateCall({
      url: bridge.url,
      audio: o.audio,
      realtime: true,
      tailMs: o.tailMs ?? 6000,
      endWhenIdleMs: 2500,
      onProgress: (e) => {
        if (e.type === 'start') startedAt = performance.now();
      },
    });
    const requests = [...proxy.requests];
    const phrases: PhraseOutcome[] = [];
    for (const r of requests) {
      let p = phrases.find((x) => x.sha1 === r.audioSha1);
      if (!p) {
        p = { sha1: r.audioSha1, ms: r.audioBytes / 32, sentAtMs: r.receivedAt - startedAt, faulted: false, answered: false, attempts: 0 };
        phrases.push(p);
      }
      p.attempts++;
      if (r.fault) p.faulted = true;
      if (!r.fault && r.status === 200 && r.bytesSent >= r.audioBytes / 4) p.answered = true;
    }
    return {
      kind: o.kind ?? 'clean',
      call,
      requests,
      phrases,
      callUp: call.closedBy === 'simulator' && call.protocolErrors.length === 0,
      leakedFrames: findLeakedFrames(call.sentFrames, call.receivedAudio),
      foreignBytes: call.receivedAudio.filter((b) => !TONE.has(b)).length,
      heardToneMs: audibleMs(call.heard),
      logs,
    };
  } finally {
    await bridge.close();
    await proxy.close();
    await fake.close();
  }
}

export interface FaultSummary {
  kind: FaultKindName | 'clean';
  callUp: boolean;
  leakedFrames: number;
  foreignBytes: number;
  /** Speech after the fault (the clean run's phrases after the faulted ones), ms. */
  afterMs: number;
  /** Of it, phrases ElevenLabs answered in full in the faulty run, ms. */
  convertedMs: number;
  /** convertedMs / afterMs. */
  convertedShare: number;
  /** The same share in the clean call (what barge-in clears cost with no fault at all). */
  cleanConvertedShare: number;
  /**
   * Converted audio the caller heard (through the emulated playout buffer) from the moment the
   * first phrase after the fault was sent, ms, partial answers to the faulted phrases left out;
   * and the same in the clean call. Barge-in clears make both less than the speech.
   */
  heardAfterMs: number;
  cleanHeardAfterMs: number;
  /** The first phrase after the fault was answered in full. */
  firstAfterConverted: boolean;
  /** Phrases after the fault that never reached ElevenLabs (dropped while the circuit was open). */
  notSent: number;
}

/** A clean run, then every kind at once with the fault on the clean run's first `faultedPhrases` phrases. */
export async function runMatrix(audio: Uint8Array, kinds: readonly FaultKindName[], faultedPhrases = 2, env?: Record<string, string>) {
  const clean = await runScenario({ audio, ...(env && { env }) });
  const faultHashes = clean.phrases.slice(0, faultedPhrases).map((p) => p.sha1);
  const runs = await Promise.all(kinds.map((kind) => runScenario({ audio, kind, faultHashes, ...(env && { env }) })));
  return { clean, runs, summaries: runs.map((r) => summarize(clean, r, faultedPhrases)) };
}

/** The faulty run against the clean run of the same call. */
export function summarize(clean: ScenarioResult, run: ScenarioResult, faultedPhrases = 2): FaultSummary {
  const after = clean.phrases.slice(faultedPhrases);
  const got = new Map(run.phrases.map((p) => [p.sha1, p]));
  const afterMs = after.reduce((a, p) => a + p.ms, 0);
  const convertedMs = after.reduce((a, p) => a + (got.get(p.sha1)?.answered ? p.ms : 0), 0);
  const cleanConvertedMs = after.reduce((a, p) => a + (p.answered ? p.ms : 0), 0);
  const heardFrom = (r: ScenarioResult, at: number | undefined) => (at === undefined ? 0 : audibleMs(r.call.heard.subarray(Math.max(0, Math.floor(at)) * 8)));
  const firstAfter = after[0] && got.get(after[0].sha1);
  const partialMs = run.requests.filter((r) => r.fault).reduce((a, r) => a + r.bytesSent / 8, 0);
  const runFrom = firstAfter?.sentAtMs ?? (after[0] ? after[0].sentAtMs : undefined);
  return {
    kind: run.kind,
    callUp: run.callUp,
    leakedFrames: run.leakedFrames,
    foreignBytes: run.foreignBytes,
    afterMs: Math.round(afterMs),
    convertedMs: Math.round(convertedMs),
    convertedShare: afterMs > 0 ? convertedMs / afterMs : 0,
    cleanConvertedShare: afterMs > 0 ? cleanConvertedMs / afterMs : 0,
    heardAfterMs: Math.max(0, heardFrom(run, runFrom) - partialMs),
    cleanHeardAfterMs: heardFrom(clean, after[0]?.sentAtMs),
    firstAfterConverted: after[0] !== undefined && got.get(after[0].sha1)?.answered === true,
    notSent: after.filter((p) => !got.has(p.sha1)).length,
  };
}
