/**
 * The call path of eval:privacy (`--path call`): each clip masked by a real hotline call through
 * a real bridge on loopback (startServer with CONVERTER=local, streaming, PORT 0), driven by the
 * call simulator in non-realtime mode; the masked segment is what the caller heard. Every clip is
 * one call with its own CallSid, so its seed is the bridge's own per-call seed (salted hash of
 * the CallSid) and the per-phrase draws are production's; the run's seeds do not choose them.
 *
 * A stable persona (`--persona stable`, as `persona: stable` on a contact line masks an agent):
 * the same call, whose stream names a route of this script's (`mode=eval-persona`) that masks
 * with a MaskedDirection carrying the persona exactly as a line's agent-to-caller direction does
 * (`persona: { seed }`: the engine's openStream({ seed, stable: true }), no per-phrase draw);
 * the seed is personaSeed(secret, agent id) of src/session/line/room.ts, the agent being the
 * clip's speaker.
 *
 * `fixedSeed`: a second bridge with LOCAL_SEED set (every call of every agent the same seed).
 */
import { MULAW_SILENCE } from '../../src/audio/mulaw.js';
import { loadConfig } from '../../src/config/env.js';
import { startServer, type RunningServer } from '../../src/compose.js';
import { createLogger } from '../../src/observability/logger.js';
import { MaskedDirection } from '../../src/pipeline/masked-direction.js';
import { personaSeed } from '../../src/session/line/room.js';
import { randomSid, simulateCall } from '../../tools/sim/index.js';

const PERSONA_ROUTE = 'eval-persona';
/** The stable personas' secret (LINE_ROOM_SECRET in a deployment): fixed, so the personas are too. */
export const PERSONA_SECRET = 'eval-privacy';

const bridges = new Map<string, Promise<RunningServer>>();

function bridge(localSeed: number | undefined, engineEnv: Record<string, string>): Promise<RunningServer> {
  const key = `${localSeed ?? ''}|${JSON.stringify(engineEnv)}`;
  let b = bridges.get(key);
  if (!b) {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      CONVERTER: 'local',
      LOCAL_MODE: 'streaming',
      // The simulator sends faster than real time: the flood and run-ahead limits raised.
      WS_MAX_MESSAGES_PER_SEC: '10000',
      WS_MAX_AUDIO_AHEAD_MS: '600000',
      // The bridge paces its output to the caller's playout clock (real time): sending up to 5 s
      // ahead lets a fast call end sooner. Barge-in off: a caller's own new turn clears a backlog
      // that only the simulator's faster-than-real-time input built up (none in a real call).
      PLAYOUT_LEAD_MS: '5000',
      HOTLINE_TURN_GAP_MS: '0',
      ...(localSeed !== undefined && { LOCAL_SEED: String(localSeed) }),
      ...engineEnv,
    });
    b = startServer(config, {
      logger: createLogger('warn'),
      extend: ({ profile }) => ({
        routes: {
          // A stable persona's masking (a line's agent toward the caller) on a hotline-like stream.
          [PERSONA_ROUTE]: (conn, start, log) => {
            const p = start.customParameters;
            const ended = new AbortController();
            const direction = new MaskedDirection({
              converter: profile.converter,
              output: conn.openOutput(profile.playout),
              voiceId: p.voice ?? profile.voices.defaultVoiceId,
              callKey: start.callSid,
              persona: { seed: Number(p.personaSeed) },
              signal: ended.signal,
              log,
              segmenter: profile.segmenter,
            });
            return {
              onMedia: (f) => direction.push(f),
              onDtmf: () => {},
              close: () => ended.abort(new Error('call ended')),
            };
          },
        },
      }),
    });
    bridges.set(key, b);
  }
  return b;
}

export interface CallMaskOptions {
  voiceId: string;
  /** The agent (speaker) id: a stable persona's seed derives from it. */
  agent: string;
  persona: 'per-call' | 'stable';
  /** LOCAL_SEED for every call (the fixed-seed attacker); unset: the bridge's per-call seeds. */
  fixedSeed?: number;
  /** LOCAL_PHRASE_VARIATION=false when false. */
  phraseVariation?: boolean;
}

/** One hotline call through the bridge; what the caller heard, aligned with `ulaw`. */
export async function maskCall(ulaw: Uint8Array, o: CallMaskOptions): Promise<Uint8Array> {
  const env: Record<string, string> = o.phraseVariation === false ? { LOCAL_PHRASE_VARIATION: 'false' } : {};
  const b = await bridge(o.fixedSeed, env);
  const enough = new AbortController();
  let received = 0;
  const r = await simulateCall({
    url: b.url,
    audio: ulaw,
    realtime: false,
    fastSpeedup: 50,
    // The output comes in real time, up to the playout lead ahead: the tail waits for it, and
    // the call hangs up once the clip's length and 1 s more (more than any delay) came back.
    tailMs: Math.ceil(ulaw.length / 8) + 20_000,
    signal: enough.signal,
    onProgress: (e) => {
      if (e.type === 'media' && (received += e.bytes) >= ulaw.length + 8000) enough.abort();
    },
    query: { voice: o.voiceId },
    form: { CallSid: randomSid('CA') },
    ...(o.persona === 'stable' && {
      startParameters: { mode: PERSONA_ROUTE, voice: o.voiceId, personaSeed: String(personaSeed(PERSONA_SECRET, o.agent)) },
    }),
  });
  if (r.protocolErrors.length > 0) throw new Error(`call path: ${r.protocolErrors.join('; ')}`);
  // What the caller heard: the bridge's output, every media frame it sent in order (a streaming
  // call's output is one continuous stream, never cleared here). Not the simulator's `heard`
  // timeline: in fast mode it places frames by their arrival in wall time, with gaps that a real
  // call would not have.
  return align(ulaw, r.receivedAudio);
}

/**
 * The heard audio shifted by the call's delay (engine and playout): the lag, in 2.5 ms steps up
 * to 1 s, where the heard audio's log-energy envelope best matches the input's.
 */
function align(input: Uint8Array, heard: Uint8Array): Uint8Array {
  const HOP = 20;
  const env = (u: Uint8Array) => {
    const out = new Float64Array(Math.floor(u.length / HOP));
    for (let i = 0; i < out.length; i++) {
      let e = 0;
      for (let j = 0; j < HOP; j++) {
        const x = mulawMagnitude(u[i * HOP + j]!);
        e += x * x;
      }
      out[i] = Math.log10(1e-3 + e / HOP);
    }
    return out;
  };
  const a = env(input);
  const h = env(heard);
  const mean = (x: Float64Array) => x.reduce((s, v) => s + v, 0) / Math.max(1, x.length);
  const ma = mean(a);
  const mh = mean(h);
  let best = 0;
  let bestScore = -Infinity;
  for (let lag = 0; lag <= 8000 / HOP; lag++) {
    let s = 0;
    const n = Math.min(a.length, h.length - lag);
    for (let i = 0; i < n; i++) s += (a[i]! - ma) * (h[i + lag]! - mh);
    if (n > 0 && s / n > bestScore) {
      bestScore = s / n;
      best = lag;
    }
  }
  const out = new Uint8Array(input.length).fill(MULAW_SILENCE);
  const from = best * HOP;
  if (heard.length < from + input.length) throw new Error(`call path: the bridge sent ${heard.length} bytes, fewer than the ${input.length} of the clip after a delay of ${from / 8} ms`);
  out.set(heard.subarray(from, from + input.length));
  return out;
}

/** |sample| of a mu-law byte, roughly linear (enough for an envelope). */
function mulawMagnitude(b: number): number {
  const u = ~b & 0xff;
  const exp = (u >> 4) & 7;
  const mant = u & 0x0f;
  return ((mant << 3) + 0x84) << exp;
}

export async function closeBridges(): Promise<void> {
  for (const b of bridges.values()) await (await b).close();
  bridges.clear();
}
