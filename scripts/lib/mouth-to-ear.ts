/**
 * Mouth-to-ear delay of every 20 ms of speech: when the listener heard it minus when it was
 * said. Works from what the listener's phone actually played (the simulator's heard timeline)
 * and from an echoing converter (each answer is its request's audio), so each played sample
 * can be traced back to the words it carries:
 *  1. each request is located in the input by its energy envelope (10 ms hops), refined by
 *     correlation to the sample;
 *  2. each answer is located on the heard timeline by an exact match of its bytes (playout
 *     copies bytes; a cleared or dropped answer is simply not there);
 *  3. a speech frame (inside the reference phrase timings) is heard if its answer's bytes for it
 *     are on the heard timeline; its delay is where they are minus where the frame was said.
 */
export interface DelayReport {
  speechFrames: number;
  heardFrames: number;
  delaysMs: number[];
  /** Each heard speech frame: when it was said and when it was heard (ms), in speaking order. */
  frames: Array<{ saidMs: number; heardMs: number }>;
  requests: number;
  /** Seconds of audio sent for conversion. */
  sentS: number;
  speechS: number;
}

const HOP = 80;

function envelope(x: Int16Array): Float64Array {
  const n = Math.floor(x.length / HOP);
  const e = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * HOP; j < (i + 1) * HOP; j++) s += x[j]! * x[j]!;
    e[i] = Math.log10(1 + s / HOP);
  }
  return e;
}

/** Sample offset of `part` in `whole`, searched from `from` (hops) onwards. */
function locate(whole: Int16Array, envWhole: Float64Array, part: Int16Array, fromHop: number): number {
  const ep = envelope(part);
  if (ep.length === 0) return -1;
  let best = -1;
  let bestScore = -Infinity;
  const lo = Math.max(0, fromHop);
  const hi = envWhole.length - ep.length;
  for (let o = lo; o <= hi; o++) {
    let s = 0;
    for (let i = 0; i < ep.length; i++) {
      const d = envWhole[o + i]! - ep[i]!;
      s -= d * d;
    }
    if (s > bestScore) {
      bestScore = s;
      best = o;
    }
  }
  if (best < 0) return -1;
  // Refine to the sample by correlation.
  let bestOff = best * HOP;
  let bestDot = -Infinity;
  for (let off = Math.max(0, best * HOP - HOP); off <= Math.min(whole.length - part.length, best * HOP + HOP); off++) {
    let dot = 0;
    for (let i = 0; i < part.length; i += 2) dot += whole[off + i]! * part[i]!;
    if (dot > bestDot) {
      bestDot = dot;
      bestOff = off;
    }
  }
  return bestOff;
}

export function mouthToEar(said: Int16Array, phrases: ReadonlyArray<readonly [number, number]>, requests: ReadonlyArray<{ pcm8k: Int16Array; reply: Uint8Array }>, heard: Uint8Array): DelayReport {
  // What the caller sent after the speech (the tail) is silence: a last chunk may reach into it.
  const input = new Int16Array(said.length + 10 * 8000);
  input.set(said);
  const env = envelope(input);
  const heardBuf = Buffer.from(heard.buffer, heard.byteOffset, heard.byteLength);
  // Where each request came from (input samples) and where its answer played (heard samples).
  const spans: Array<{ from: number; to: number; reply: Uint8Array; heardAt: number }> = [];
  for (const r of requests) {
    // Searched over the whole input: retried or fallen-back requests may arrive out of order.
    const from = locate(input, env, r.pcm8k, 0);
    if (from < 0) continue;
    // The answer's loudest 20 ms, found exactly on the heard timeline.
    let j0 = 0;
    let loud = -1;
    for (let j = 0; j + 160 <= r.reply.length; j += 160) {
      let n = 0;
      for (let k = j; k < j + 160; k++) if ((r.reply[k]! & 0x7f) < 0x60) n++;
      if (n > loud) {
        loud = n;
        j0 = j;
      }
    }
    let heardAt = -1;
    if (loud > 20) {
      const pos = heardBuf.indexOf(Buffer.from(r.reply.subarray(j0, j0 + 160)));
      if (pos >= 0) heardAt = pos - j0;
    }
    spans.push({ from, to: from + r.pcm8k.length, reply: r.reply, heardAt });
  }
  const delaysMs: number[] = [];
  const frames: DelayReport['frames'] = [];
  let speechFrames = 0;
  for (const [s, e] of phrases) {
    for (let f = Math.ceil((s * 1000) / 20); f < Math.floor((e * 1000) / 20); f++) {
      speechFrames++;
      const at = f * 160;
      const span = spans.find((x) => at >= x.from && at + 160 <= x.to);
      if (!span || span.heardAt < 0) continue;
      const j = at - span.from;
      const h = span.heardAt + j;
      if (h < 0 || h + 160 > heard.length) continue;
      if (!heardBuf.subarray(h, h + 160).equals(Buffer.from(span.reply.subarray(j, j + 160)))) continue;
      delaysMs.push((h - at) / 8);
      frames.push({ saidMs: at / 8, heardMs: h / 8 });
    }
  }
  const speechS = phrases.reduce((n, [s, e]) => n + e - s, 0);
  return { speechFrames, heardFrames: delaysMs.length, delaysMs, frames, requests: requests.length, sentS: requests.reduce((n, r) => n + r.pcm8k.length / 8000, 0), speechS };
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
