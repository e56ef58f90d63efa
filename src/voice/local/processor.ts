/**
 * The masking pipeline at 16 kHz, one instance per call (or per phrase), in 5 ms hops:
 *
 *   x --LPC analysis (20 ms Hann, order 16)--> A(z) --inverse filter--> residual e
 *   x --half-band decimate--> 8 kHz --YIN--> F0, voicing --lag-corrected running median--> target F0
 *   e --PSOLA at the target F0 / seeded noise when unvoiced--> new excitation
 *   new excitation --1 / A'(z), poles rotated by the formant ratio--> y
 *
 * Hop k is analysed once the input reaches LOOKAHEAD samples past its end; output is final
 * LATENCY samples behind the input. Every step depends only on the signal (never on how it was
 * chunked), so phrase mode is streaming mode run over the whole phrase.
 */
import { FormantWarper } from './formant-warp.js';
import { HOP, HopTrack, LPC_ORDER, SAMPLE_RATE } from './hop-track.js';
import { bandPowerGain, hann, lagWindow, levinson, windowedAutocorr } from './lpc.js';
import { MAX_HALF, RESIDUAL_AHEAD, ResidualPsola } from './excitation.js';
import { PitchReference, PitchSpread, targetF0 } from './pitch-target.js';
import { HALFBAND, YinTracker } from './pitch-tracker.js';
import type { LocalVoicePreset } from './presets.js';
import { FormantNormaliser } from './speaker-norm.js';
import { callVariation, phraseScale, variedPreset, type CallVariation } from './call-variation.js';
import { concatChunks } from '../../audio/codecs/pcm.js';

/** Per-call options of the processor (all optional; defaults: full normalisation, no variation). */
export interface MaskProcessorOptions {
  /** How far each speaker's formants are pulled onto the preset's targets, 0..1 (default 1). */
  normalise?: number;
  /** Amount of per-call variation drawn from the seed, 0..1 (default 0: none). */
  variation?: number;
  /**
   * Amount of per-phrase variation of the formant target on top of the call's, 0..1 (default 0:
   * none): a new draw after every pause of PAUSE_HOPS unvoiced hops (see PHRASE_SPAN).
   */
  phraseVariation?: number;
  /** Index of the first phrase (phrase mode: phraseIndexOf the phrase; default 0). */
  phrase?: number;
  /**
   * Least share of the voiced excitation that is a clean pulse instead of the speaker's own
   * residual, 0..1 (default 0; noise raises it further). The residual carries voice quality, a
   * cue to identity; pulses hide it at some cost in naturalness.
   */
  pulse?: number;
}

/** Input needed past a hop's end before it is analysed (LPC window half + YIN lookahead). */
const LOOKAHEAD = 160;
const LPC_WIN = 320;
/**
 * Output lags input by this many samples (36 ms): output n is final when the synthesis marks
 * reach n + MAX_HALF, and a mark s needs the residual up to s + RESIDUAL_AHEAD, which exists
 * LOOKAHEAD samples after the input.
 */
export const LATENCY = LOOKAHEAD + RESIDUAL_AHEAD + MAX_HALF + 8;
/**
 * Pole rotation = formantRatio ^ WARP_EXPONENT. Calibrated on the twelve speech clips: the
 * re-timed residual keeps part of the speaker's own envelope (unshifted), so rotating the poles
 * by the nominal ratio moves the measured spectral envelope only ~80% of the way (in log
 * frequency). With the exponent the measured shift matches the preset's formantRatio.
 */
const WARP_EXPONENT = 1.25;
/**
 * Loudness match bounds: a lowered envelope can gain 20-30 dB in the band (its resonances move
 * onto the strongest harmonics), so the floor is low; the ceiling stays at 4, as more would
 * amplify the inverse filter's whitened noise above 4 kHz where a raised envelope puts poles.
 */
const MIN_GAIN = 1 / 64;
const MAX_GAIN = 4;
/**
 * A pause ends a phrase for per-phrase variation: 50 unvoiced hops (250 ms), longer than any
 * unvoiced stretch within a word. The new draw takes effect in the pause.
 */
const PAUSE_HOPS = 50;
/** Formant ratio change per hop when the voice is switched (no clicks). */
const RATIO_SLEW = 0.004;

/**
 * Noise robustness, driven by the running SNR estimate (speech level on voiced hops over the
 * noise floor). Voiced excitation: the residual grain below PULSE_SNR_HI dB is blended into a clean
 * pulse, fully at PULSE_SNR_LO dB and below (see ResidualPsola.synthesize). Clean calls are untouched.
 */
const PULSE_SNR_LO = 25;
const PULSE_SNR_HI = 35;
/**
 * Fundamental restoration in noise: the telephone band (300-3400 Hz) carries little of a low
 * output F0, and with the noise's colour in the envelope the second harmonic dominates, so the
 * pitch of a lowered voice becomes ambiguous (heard and tracked an octave up). Below
 * SUB_SNR_HI dB (fully at SUB_SNR_LO) a sine at the output F0, SUB_LEVEL times the output's mean
 * magnitude, is added; it fades out for output F0 between SUB_F_LO and SUB_F_HI Hz, where the
 * fundamental is no longer far below the band.
 */
const SUB_SNR_LO = 18;
const SUB_SNR_HI = 26;
const SUB_LEVEL = 0.8;
const SUB_F_LO = 200;
const SUB_F_HI = 260;
/**
 * Noise floor: follows a falling hop power at once (smoothed), rises 0.05 dB per 5 ms hop (10 dB
 * a second, so a call that opens in digital silence finds its real noise floor within seconds).
 * Hops quieter than FLOOR_MIN_POWER (-70 dBFS: digital silence, not a noise floor) are ignored.
 */
const FLOOR_RISE = 10 ** (0.05 / 10);
const FLOOR_MIN_POWER = 100;
const RING = 4096;
const MASK = RING - 1;
const D_RING = 1024;
const D_MASK = D_RING - 1;
const HB_MID = (HALFBAND.length - 1) >> 1;

export class MaskProcessor {
  private readonly x = new Float32Array(RING);
  private n = 0;
  private readonly d8 = new Float32Array(D_RING);
  private d8Count = 0;
  private nextHop = 0;
  private outPos = 0;
  private readonly hops = new HopTrack();
  private readonly psola: ResidualPsola;
  private readonly yin = new YinTracker();
  private readonly yinBuf: Float32Array;
  private readonly reference = new PitchReference();
  private readonly spread = new PitchSpread();
  private readonly normalise: number;
  private readonly warper = new FormantWarper(LPC_ORDER);
  private readonly win = hann(LPC_WIN);
  private readonly lag = lagWindow(LPC_ORDER, 16000);
  private readonly seg = new Float64Array(LPC_WIN);
  private readonly r = new Float64Array(LPC_ORDER + 1);
  private readonly a = new Float64Array(LPC_ORDER + 1);
  private readonly b = new Float64Array(LPC_ORDER + 1);
  private readonly tmp = new Float64Array(LPC_ORDER + 1);
  private readonly winBuf = new Float32Array(LPC_WIN);
  private readonly yHist = new Float64Array(32);
  private yPos = 0;
  /** Noise floor and speech level (hop power), and the fundamental restoration's state. */
  private floor = 0;
  private speech = 0;
  private subGain = 0;
  private env = 0;
  private subAmp = 0;
  private phase = 0;
  private subHop = -1;
  private subF0 = 0;
  private ratio: number;
  private readonly norm: FormantNormaliser;
  private readonly variation: CallVariation;
  private readonly minPulse: number;
  private readonly seed: number;
  private readonly phraseAmount: number;
  private phrase: number;
  private unvoicedRun = 0;
  /** Output samples that came out non-finite (replaced by 0): a health counter for the eval. */
  nonFinite = 0;

  private preset: LocalVoicePreset;

  constructor(preset: LocalVoicePreset, seed = 0, opts: MaskProcessorOptions = {}) {
    this.psola = new ResidualPsola(seed);
    this.yinBuf = new Float32Array(this.yin.span);
    this.variation = callVariation(seed, opts.variation ?? 0);
    this.preset = variedPreset(preset, this.variation);
    this.ratio = preset.formantRatio;
    this.normalise = Math.max(0, Math.min(1, opts.normalise ?? 1));
    this.seed = seed;
    this.phraseAmount = opts.phraseVariation ?? 0;
    this.phrase = opts.phrase ?? 0;
    this.norm = new FormantNormaliser(this.callScale(), this.normalise, WARP_EXPONENT);
    this.minPulse = Math.max(0, Math.min(1, opts.pulse ?? 0));
  }

  /** Switches preset from the next hop on (the formant ratio glides, pitch follows per period). */
  setPreset(p: LocalVoicePreset): void {
    this.preset = variedPreset(p, this.variation);
  }

  /** The formant target's multiplier for the current phrase (call and phrase variation). */
  private callScale(): number {
    return this.variation.formantScale * phraseScale(this.seed, this.phrase, this.phraseAmount);
  }

  /** The pole-angle ratio synthesised with now (preset, speaker correction, variation). */
  formantWarp(): number {
    return this.norm.ratio;
  }

  /** The speaker's formant estimate (F1..F3, Hz) so far. */
  speakerFormantsHz(): number[] {
    return this.norm.formantsHz();
  }

  /** The speaker's pitch spread so far (mean absolute deviation of ln F0 from the reference). */
  speakerPitchSpread(): number {
    return this.spread.value;
  }

  /**
   * Feeds input samples (int16 scale) and writes the output that became final into out at
   * outOff; returns how many. out needs room for input.length + HOP samples.
   */
  process(input: ArrayLike<number>, out: Int16Array, outOff = 0): number {
    let w = outOff;
    for (let i = 0; i < input.length; i++) {
      this.x[this.n & MASK] = input[i]!;
      this.n++;
      if (this.n === (this.nextHop + 1) * HOP + LOOKAHEAD) {
        this.analyseHop(this.nextHop++);
        w = this.render(this.n - LATENCY, out, w);
      }
    }
    return w - outOff;
  }

  private analyseHop(k: number): void {
    const x = this.x;
    // 8 kHz copy for the pitch tracker, up to where the half-band filter has its input.
    const dEnd = ((k + 1) * HOP + LOOKAHEAD - HB_MID - 1) >> 1;
    for (; this.d8Count < dEnd; this.d8Count++) {
      let s = 0;
      const c = 2 * this.d8Count - HB_MID;
      for (let t = 0; t < HALFBAND.length; t++) s += HALFBAND[t]! * x[(c + t) & MASK]!;
      this.d8[this.d8Count & D_MASK] = s;
    }
    const span = this.yin.span;
    for (let j = 0; j < span; j++) this.yinBuf[j] = this.d8[(dEnd - span + j) & D_MASK]!;
    const f0 = this.yin.analyse(this.yinBuf, 0);

    // LPC on the 20 ms window centred on the hop.
    const start = k * HOP + HOP / 2 - LPC_WIN / 2;
    for (let j = 0; j < LPC_WIN; j++) this.winBuf[j] = x[(start + j) & MASK]!;
    windowedAutocorr(this.winBuf, 0, this.win, LPC_ORDER, this.seg, this.r);
    for (let i = 0; i <= LPC_ORDER; i++) this.r[i]! *= this.lag[i]!;
    // Noise floor (fast down, slow up) and speech level (voiced hops): the SNR estimate.
    const pw = this.r[0]! / LPC_WIN;
    if (pw > FLOOR_MIN_POWER) {
      this.floor = this.floor <= 0 ? pw : pw < this.floor ? this.floor + 0.2 * (pw - this.floor) : this.floor * FLOOR_RISE;
      if (f0 > 0) this.speech += (this.speech > 0 ? 0.01 : 1) * (pw - this.speech);
    }
    const snr = this.floor > 0 && this.speech > 0 ? 10 * Math.log10(this.speech / this.floor) : Infinity;
    this.subGain = ramp(SUB_SNR_HI, SUB_SNR_LO, snr);
    levinson(this.r, LPC_ORDER, this.a, this.tmp);

    // Residual of the hop.
    const a = this.a;
    const e = this.psola.residual;
    for (let n = k * HOP; n < (k + 1) * HOP; n++) {
      let v = x[n & MASK]!;
      for (let j = 1; j <= LPC_ORDER; j++) v += a[j]! * x[(n - j) & MASK]!;
      e[n & MASK] = v;
    }

    this.unvoicedRun = f0 > 0 ? 0 : this.unvoicedRun + 1;
    if (this.unvoicedRun === PAUSE_HOPS && this.phraseAmount > 0) {
      this.phrase = (this.phrase + 1) >>> 0;
      this.norm.setCallScale(this.callScale());
    }
    let f0Out = 0;
    if (f0 > 0) {
      const ref = this.reference.add(f0);
      this.spread.add(f0, ref);
      f0Out = targetF0(this.preset, f0, ref, this.spread.factor() ** this.normalise);
    }
    const want = this.preset.formantRatio;
    this.ratio += Math.max(-RATIO_SLEW, Math.min(RATIO_SLEW, want - this.ratio));
    if (Math.abs(want - this.ratio) < 1e-9) this.ratio = want;
    this.norm.setRatio(this.ratio);
    if (this.warper.warp(a, this.norm.ratio, this.b) && f0 > 0) {
      const p = this.warper.poles();
      this.norm.observe(p.count, p.angle, p.radius);
    }
    // Keep loudness: scale the excitation so 1/A'(z) has the power gain of 1/A(z) in the band.
    const gA = bandPowerGain(a, LPC_ORDER);
    const gB = bandPowerGain(this.b, LPC_ORDER);
    const gain = Number.isFinite(gA) && Number.isFinite(gB) && gB > 0 ? Math.min(MAX_GAIN, Math.max(MIN_GAIN, Math.sqrt(gA / gB))) : 1;
    this.hops.set(k, f0 > 0, f0, f0Out, this.b, gain, Math.max(this.minPulse, ramp(PULSE_SNR_HI, PULSE_SNR_LO, snr)));
    this.psola.placeMarks((k + 1) * HOP, this.hops);
  }

  /** Synthesises output up to (not including) sample `end`. */
  private render(end: number, out: Int16Array, w: number): number {
    if (end <= this.outPos) return w;
    this.psola.synthesize(end + MAX_HALF + 1, this.hops);
    const hist = this.yHist;
    for (let n = this.outPos; n < end; n++) {
      const h = Math.floor(n / HOP);
      const b = this.hops.synth(h);
      let y = this.hops.gain(h) * this.psola.take(n);
      const p = this.yPos;
      for (let j = 1; j <= LPC_ORDER; j++) y -= b[j]! * hist[(p - j) & 31]!;
      if (!Number.isFinite(y)) {
        // Cannot happen with stable filters; never let one bad sample silence the call.
        this.nonFinite++;
        hist.fill(0);
        y = 0;
      }
      hist[p & 31] = y;
      this.yPos = p + 1;
      // Fundamental restoration (smoothed amplitude, continuous phase; never in clean calls).
      this.env += 0.002 * (Math.abs(y) - this.env);
      if (this.subGain > 0 || this.subAmp > 1e-3) {
        if (h !== this.subHop) {
          this.subHop = h;
          this.subF0 = this.hops.smoothedF0Out(h);
        }
        const f = this.subF0;
        const want = f > 0 ? this.subGain * SUB_LEVEL * this.env * ramp(SUB_F_HI, SUB_F_LO, f) : 0;
        this.subAmp += 0.004 * (want - this.subAmp);
        if (f > 0) {
          this.phase += (2 * Math.PI * f) / SAMPLE_RATE;
          if (this.phase > 2 * Math.PI) this.phase -= 2 * Math.PI;
        }
        y += this.subAmp * Math.sin(this.phase);
      }
      out[w++] = Math.round(softLimit(y));
    }
    this.outPos = end;
    return w;
  }
}

/** 0 at x >= zero, 1 at x <= one (zero > one), linear between. */
function ramp(zero: number, one: number, x: number): number {
  return Math.max(0, Math.min(1, (zero - x) / (zero - one)));
}

const KNEE = 24000;
const HEADROOM = 32767 - KNEE;

/** Identity below KNEE, then a tanh curve that never reaches full scale (no hard clipping). */
function softLimit(y: number): number {
  if (y > KNEE) return KNEE + HEADROOM * Math.tanh((y - KNEE) / HEADROOM);
  if (y < -KNEE) return -KNEE - HEADROOM * Math.tanh((-y - KNEE) / HEADROOM);
  return y;
}

/**
 * A stage run before masking (the denoiser). process() returns about as many samples as it is
 * given, its output lagging its input by `delay` samples; `flushSamples` zeros release the rest.
 */
export interface Prefilter {
  readonly delay: number;
  readonly flushSamples: number;
  process(x: Int16Array): Int16Array;
  destroy(): void;
}

/** Input per step of blockwise phrase masking: 200 ms at 16 kHz (about 2 ms of work). */
export const PHRASE_BLOCK = 3200;
/** Zeros fed after a phrase so that its last sample is final. */
const TAIL = LATENCY + 2 * HOP + LOOKAHEAD;

/**
 * Masks a signal incrementally as it arrives: push() processes input and returns the output
 * that became final (possibly empty); finish() returns the rest, so that all the chunks joined
 * are aligned with the input and exactly as long. Output does not depend on how the input is
 * cut. The prefilter (RNNoise) runs first and is destroyed by finish() or destroy().
 */
export class BlockMasker {
  private readonly p: MaskProcessor;
  private readonly pre: Prefilter | undefined;
  private out = new Int16Array(PHRASE_BLOCK + TAIL + 2 * HOP);
  private total = 0;
  private emitted = 0;
  /** Prefilter delay still to drop, and its output kept so far. */
  private skip: number;
  private cleaned = 0;

  constructor(
    preset: LocalVoicePreset,
    seed: number,
    opts: MaskProcessorOptions & { prefilter?: Prefilter; stats?: { nonFinite: number } } = {},
  ) {
    this.p = new MaskProcessor(preset, seed, opts);
    this.pre = opts.prefilter;
    this.skip = this.pre?.delay ?? 0;
    this.stats = opts.stats;
  }

  private readonly stats: { nonFinite: number } | undefined;

  push(x: Int16Array): Int16Array {
    this.total += x.length;
    return this.run(this.pre ? this.clean(this.pre.process(x)) : x);
  }

  finish(): Int16Array[] {
    const rest: ArrayLike<number>[] = [];
    if (this.pre) {
      rest.push(this.clean(this.pre.process(new Int16Array(this.pre.flushSamples))));
      if (this.cleaned < this.total) rest.push(new Int16Array(this.total - this.cleaned));
    }
    rest.push(new Float32Array(TAIL));
    const out = rest.map((x) => this.run(x));
    if (this.stats) this.stats.nonFinite += this.p.nonFinite;
    this.destroy();
    return out;
  }

  destroy(): void {
    this.pre?.destroy();
  }

  private run(x: ArrayLike<number>): Int16Array {
    if (this.out.length < x.length + HOP) this.out = new Int16Array(x.length + HOP);
    const n = Math.min(this.p.process(x, this.out, 0), this.total - this.emitted);
    this.emitted += n;
    return this.out.slice(0, n);
  }

  /** The prefilter's output, delay removed and cut to the input's length. */
  private clean(y: Int16Array): Int16Array {
    const s = Math.min(this.skip, y.length);
    this.skip -= s;
    const take = Math.min(y.length - s, this.total - this.cleaned);
    this.cleaned += take;
    return y.subarray(s, s + take);
  }
}

/**
 * Masks a whole phrase incrementally: each step of the generator processes one block of input
 * (PHRASE_BLOCK samples) and yields the output that became final (possibly empty), so a caller
 * can hand the event loop back between blocks. The chunks joined are aligned with the input and
 * exactly as long; they do not depend on the block size. The prefilter is destroyed at the end
 * (also when the caller stops early).
 */
export function* maskBlocks(
  pcm: Int16Array,
  preset: LocalVoicePreset,
  seed = 0,
  opts: MaskProcessorOptions & { prefilter?: Prefilter; block?: number; stats?: { nonFinite: number } } = {},
): Generator<Int16Array, void, undefined> {
  const block = opts.block ?? PHRASE_BLOCK;
  const m = new BlockMasker(preset, seed, opts);
  try {
    for (let off = 0; off < pcm.length; off += block) yield m.push(pcm.subarray(off, Math.min(pcm.length, off + block)));
    yield* m.finish();
  } finally {
    m.destroy();
  }
}

export { concatChunks };

/** Whole-signal masking: output aligned with and as long as the input (maskBlocks in one go). */
export function maskWhole(
  pcm: Int16Array,
  preset: LocalVoicePreset,
  seed = 0,
  opts: MaskProcessorOptions & { stats?: { nonFinite: number }; prefilter?: Prefilter } = {},
): Int16Array {
  return concatChunks([...maskBlocks(pcm, preset, seed, opts)]);
}
