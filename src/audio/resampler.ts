/**
 * Band-limited resampling through the Speex resampler (WASM, BSD-3-Clause): a windowed-sinc
 * filter, so 8 kHz -> 16 kHz upsampling does not create images above 4 kHz the way linear
 * interpolation does. Each Resampler is stateful (streaming): feed consecutive chunks of one
 * signal through one instance; call destroy() when done.
 */
import createSpeexModule from '@echogarden/speex-resampler-wasm';

interface SpeexModule {
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_process_int(st: number, channel: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_get_input_latency(st: number): number;
  _speex_resampler_skip_zeros(st: number): number;
  _speex_resampler_destroy(st: number): void;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
}

let modulePromise: Promise<SpeexModule> | undefined;
let speex: SpeexModule | undefined;

/** Loads the WASM module once; call (and await) before creating resamplers. */
export async function initResampler(): Promise<void> {
  modulePromise ??= (createSpeexModule as unknown as () => Promise<SpeexModule>)();
  speex = await modulePromise;
}

function mod(): SpeexModule {
  if (!speex) throw new Error('resampler not initialised: await initResampler() at start-up');
  return speex;
}

const MAX_CHUNK = 8192;

export class Resampler {
  private st: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly lenPtr: number;
  private readonly ratio: number;
  private destroyed = false;

  constructor(
    readonly inRate: number,
    readonly outRate: number,
    quality = 7,
  ) {
    const m = mod();
    this.lenPtr = m._malloc(12);
    this.st = m._speex_resampler_init(1, inRate, outRate, quality, this.lenPtr + 8);
    if (!this.st) throw new Error(`speex resampler init failed (${inRate} -> ${outRate})`);
    m._speex_resampler_skip_zeros(this.st);
    this.ratio = outRate / inRate;
    this.inPtr = m._malloc(MAX_CHUNK * 2);
    this.outPtr = m._malloc(Math.ceil(MAX_CHUNK * this.ratio + 64) * 2);
  }

  /** Filter delay in output samples (what the resampler holds back until flush). */
  get latencySamples(): number {
    return Math.round(mod()._speex_resampler_get_input_latency(this.st) * this.ratio);
  }

  process(input: Int16Array): Int16Array {
    if (this.destroyed) throw new Error('resampler used after destroy');
    const m = mod();
    const outCap = Math.ceil(MAX_CHUNK * this.ratio + 64);
    const parts: Int16Array[] = [];
    let total = 0;
    for (let off = 0; off < input.length; off += MAX_CHUNK) {
      const chunk = input.subarray(off, Math.min(off + MAX_CHUNK, input.length));
      m.HEAP16.set(chunk, this.inPtr >> 1);
      let consumed = 0;
      while (consumed < chunk.length) {
        m.HEAPU32[this.lenPtr >> 2] = chunk.length - consumed;
        m.HEAPU32[(this.lenPtr + 4) >> 2] = outCap;
        m._speex_resampler_process_int(this.st, 0, this.inPtr + consumed * 2, this.lenPtr, this.outPtr, this.lenPtr + 4);
        const used = m.HEAPU32[this.lenPtr >> 2]!;
        const produced = m.HEAPU32[(this.lenPtr + 4) >> 2]!;
        parts.push(m.HEAP16.slice(this.outPtr >> 1, (this.outPtr >> 1) + produced));
        total += produced;
        consumed += used;
        if (used === 0 && produced === 0) break;
      }
    }
    return concat(parts, total);
  }

  /** Pushes zeros through to release the samples held in the filter's delay line. */
  flush(): Int16Array {
    const pad = Math.ceil(this.latencySamples / this.ratio) + 1;
    const out = this.process(new Int16Array(pad));
    return out.subarray(0, Math.min(out.length, this.latencySamples));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    const m = mod();
    m._speex_resampler_destroy(this.st);
    m._free(this.inPtr);
    m._free(this.outPtr);
    m._free(this.lenPtr);
    this.st = 0;
  }
}

function concat(parts: Int16Array[], total: number): Int16Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Int16Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** One-shot resample of a whole signal, length-exact (round(n * out / in) samples). */
export function resample(input: Int16Array, inRate: number, outRate: number, quality = 7): Int16Array {
  if (inRate === outRate) return input.slice();
  const r = new Resampler(inRate, outRate, quality);
  try {
    const body = r.process(input);
    const tail = r.flush();
    const want = Math.round((input.length * outRate) / inRate);
    const out = new Int16Array(want);
    out.set(body.subarray(0, want));
    if (body.length < want) out.set(tail.subarray(0, want - body.length), body.length);
    return out;
  } finally {
    r.destroy();
  }
}
