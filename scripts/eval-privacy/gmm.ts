/**
 * Diagonal-covariance GMM-UBM speaker verification: the universal background model trained by
 * EM with binary splitting (deterministic), speaker models by MAP adaptation of the means
 * (relevance factor 16), trials scored as the mean per-frame log-likelihood ratio over the
 * UBM's top-C components.
 */

export interface Gmm {
  readonly k: number;
  readonly dim: number;
  weights: Float64Array;
  means: Float64Array;
  vars: Float64Array;
}

/** Rows of a feature matrix, concatenated. */
export interface Features {
  data: Float64Array;
  frames: number;
}

const LOG2PI = Math.log(2 * Math.PI);

function logConsts(g: Gmm): Float64Array {
  const c = new Float64Array(g.k);
  for (let j = 0; j < g.k; j++) {
    let s = 0;
    for (let d = 0; d < g.dim; d++) s += Math.log(g.vars[j * g.dim + d]!);
    c[j] = Math.log(g.weights[j]!) - 0.5 * (g.dim * LOG2PI + s);
  }
  return c;
}

/** Per-component log(w_j N(x | j)) of frame x into out. */
function componentLogs(g: Gmm, consts: Float64Array, x: Float64Array, off: number, out: Float64Array): void {
  const { dim } = g;
  for (let j = 0; j < g.k; j++) {
    let s = 0;
    const o = j * dim;
    for (let d = 0; d < dim; d++) {
      const z = x[off + d]! - g.means[o + d]!;
      s += (z * z) / g.vars[o + d]!;
    }
    out[j] = consts[j]! - 0.5 * s;
  }
}

function logSumExp(v: Float64Array, n: number): number {
  let m = -Infinity;
  for (let i = 0; i < n; i++) if (v[i]! > m) m = v[i]!;
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(v[i]! - m);
  return m + Math.log(s);
}

function concat(sets: readonly Features[], dim: number): Features {
  const frames = sets.reduce((s, f) => s + f.frames, 0);
  const data = new Float64Array(frames * dim);
  let o = 0;
  for (const f of sets) {
    data.set(f.data.subarray(0, f.frames * dim), o);
    o += f.frames * dim;
  }
  return { data, frames };
}

/** Trains a UBM of `k` components (a power of two) on the pooled frames. */
export function trainUbm(sets: readonly Features[], dim: number, k = 64, itersPerSplit = 4, finalIters = 8): Gmm {
  const { data, frames } = concat(sets, dim);
  if (frames < k * 4) throw new Error(`UBM: ${frames} frames are too few for ${k} components`);
  const mean = new Float64Array(dim);
  const varG = new Float64Array(dim);
  for (let t = 0; t < frames; t++) for (let d = 0; d < dim; d++) mean[d]! += data[t * dim + d]! / frames;
  for (let t = 0; t < frames; t++)
    for (let d = 0; d < dim; d++) {
      const z = data[t * dim + d]! - mean[d]!;
      varG[d]! += (z * z) / frames;
    }
  const floor = varG.map((v) => v * 0.01);
  let g: Gmm = { k: 1, dim, weights: Float64Array.of(1), means: mean.slice(), vars: varG.slice() };
  while (g.k < k) {
    g = split(g);
    for (let i = 0; i < (g.k === k ? finalIters : itersPerSplit); i++) emStep(g, data, frames, floor);
  }
  return g;
}

function split(g: Gmm): Gmm {
  const k = g.k * 2;
  const { dim } = g;
  const out: Gmm = { k, dim, weights: new Float64Array(k), means: new Float64Array(k * dim), vars: new Float64Array(k * dim) };
  for (let j = 0; j < g.k; j++) {
    for (const [n, sign] of [
      [2 * j, 1],
      [2 * j + 1, -1],
    ] as const) {
      out.weights[n] = g.weights[j]! / 2;
      for (let d = 0; d < dim; d++) {
        const v = g.vars[j * dim + d]!;
        out.vars[n * dim + d] = v;
        out.means[n * dim + d] = g.means[j * dim + d]! + sign * 0.2 * Math.sqrt(v);
      }
    }
  }
  return out;
}

function emStep(g: Gmm, data: Float64Array, frames: number, floor: Float64Array): void {
  const { k, dim } = g;
  const consts = logConsts(g);
  const lp = new Float64Array(k);
  const n = new Float64Array(k);
  const s1 = new Float64Array(k * dim);
  const s2 = new Float64Array(k * dim);
  for (let t = 0; t < frames; t++) {
    const off = t * dim;
    componentLogs(g, consts, data, off, lp);
    const tot = logSumExp(lp, k);
    for (let j = 0; j < k; j++) {
      const p = Math.exp(lp[j]! - tot);
      if (p < 1e-6) continue;
      n[j]! += p;
      for (let d = 0; d < dim; d++) {
        const x = data[off + d]!;
        s1[j * dim + d]! += p * x;
        s2[j * dim + d]! += p * x * x;
      }
    }
  }
  for (let j = 0; j < k; j++) {
    const nj = Math.max(n[j]!, 1e-3);
    g.weights[j] = Math.max(nj / frames, 1e-5);
    for (let d = 0; d < dim; d++) {
      const m = s1[j * dim + d]! / nj;
      g.means[j * dim + d] = n[j]! > 1e-3 ? m : g.means[j * dim + d]!;
      g.vars[j * dim + d] = Math.max(floor[d]!, s2[j * dim + d]! / nj - m * m);
    }
  }
  let sw = 0;
  for (let j = 0; j < k; j++) sw += g.weights[j]!;
  for (let j = 0; j < k; j++) g.weights[j]! /= sw;
}

/** A speaker model: the UBM with its means MAP-adapted to the enrolment frames. */
export function mapAdapt(ubm: Gmm, enrol: Features, relevance = 16): Gmm {
  const { k, dim } = ubm;
  const consts = logConsts(ubm);
  const lp = new Float64Array(k);
  const n = new Float64Array(k);
  const s1 = new Float64Array(k * dim);
  for (let t = 0; t < enrol.frames; t++) {
    const off = t * dim;
    componentLogs(ubm, consts, enrol.data, off, lp);
    const tot = logSumExp(lp, k);
    for (let j = 0; j < k; j++) {
      const p = Math.exp(lp[j]! - tot);
      n[j]! += p;
      for (let d = 0; d < dim; d++) s1[j * dim + d]! += p * enrol.data[off + d]!;
    }
  }
  const means = ubm.means.slice();
  for (let j = 0; j < k; j++) {
    if (n[j]! <= 0) continue;
    const a = n[j]! / (n[j]! + relevance);
    for (let d = 0; d < dim; d++) means[j * dim + d] = a * (s1[j * dim + d]! / n[j]!) + (1 - a) * ubm.means[j * dim + d]!;
  }
  return { k, dim, weights: ubm.weights, vars: ubm.vars, means };
}

/**
 * The UBM's top-C components of each test frame (precomputed once per test segment and UBM)
 * and the UBM's log-likelihood over them.
 */
export interface ScoredTest {
  features: Features;
  top: Int32Array;
  ubmLl: Float64Array;
  c: number;
}

export function prepareTest(ubm: Gmm, f: Features, c = 10): ScoredTest {
  const { k, dim } = ubm;
  const consts = logConsts(ubm);
  const lp = new Float64Array(k);
  const top = new Int32Array(f.frames * c);
  const ubmLl = new Float64Array(f.frames);
  const idx = Array.from({ length: k }, (_, i) => i);
  const sel = new Float64Array(c);
  for (let t = 0; t < f.frames; t++) {
    componentLogs(ubm, consts, f.data, t * dim, lp);
    idx.sort((a, b) => lp[b]! - lp[a]!);
    for (let i = 0; i < c; i++) {
      top[t * c + i] = idx[i]!;
      sel[i] = lp[idx[i]!]!;
    }
    ubmLl[t] = logSumExp(sel, c);
  }
  return { features: f, top, ubmLl, c };
}

/** Mean per-frame log-likelihood ratio of the test under the speaker model vs the UBM. */
export function llrScore(model: Gmm, test: ScoredTest): number {
  const { dim } = model;
  const consts = logConsts(model);
  const lp = new Float64Array(test.c);
  const x = test.features.data;
  let sum = 0;
  for (let t = 0; t < test.features.frames; t++) {
    for (let i = 0; i < test.c; i++) {
      const j = test.top[t * test.c + i]!;
      let s = 0;
      const o = j * dim;
      for (let d = 0; d < dim; d++) {
        const z = x[t * dim + d]! - model.means[o + d]!;
        s += (z * z) / model.vars[o + d]!;
      }
      lp[i] = consts[j]! - 0.5 * s;
    }
    sum += logSumExp(lp, test.c) - test.ubmLl[t]!;
  }
  return test.features.frames > 0 ? sum / test.features.frames : 0;
}
