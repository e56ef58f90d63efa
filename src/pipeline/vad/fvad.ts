/**
 * WebRTC VAD (libfvad compiled to WASM by @echogarden/fvad-wasm, BSD-3-Clause).
 * The module is loaded once per process; each FvadInstance owns one native VAD state.
 */
import createFvadModule from '@echogarden/fvad-wasm';

interface FvadModule {
  _fvad_new(): number;
  _fvad_free(inst: number): void;
  _fvad_reset(inst: number): void;
  _fvad_set_mode(inst: number, mode: number): number;
  _fvad_set_sample_rate(inst: number, rate: number): number;
  _fvad_process(inst: number, samplesPtr: number, length: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAP16: Int16Array;
}

let modulePromise: Promise<FvadModule> | undefined;
let fvad: FvadModule | undefined;
/** One scratch buffer for all instances: JS is single-threaded and process() is synchronous. */
let scratchPtr = 0;
let scratchSamples = 0;

/** Loads the WASM module once; idempotent, safe to call concurrently. */
export async function initFvad(): Promise<void> {
  modulePromise ??= (createFvadModule as unknown as () => Promise<FvadModule>)().catch((err: unknown) => {
    modulePromise = undefined;
    throw err;
  });
  fvad = await modulePromise;
}

function mod(): FvadModule {
  if (!fvad) throw new Error('VAD not initialised: await initVad() at start-up');
  return fvad;
}

export class FvadInstance {
  private inst: number;

  constructor(mode: number, sampleRate = 8000) {
    const m = mod();
    if (!Number.isInteger(mode) || mode < 0 || mode > 3) throw new RangeError(`VAD mode must be 0, 1, 2 or 3, got ${mode}`);
    this.inst = m._fvad_new();
    if (!this.inst) throw new Error('fvad_new failed (out of WASM memory?)');
    if (m._fvad_set_mode(this.inst, mode) !== 0 || m._fvad_set_sample_rate(this.inst, sampleRate) !== 0) {
      m._fvad_free(this.inst);
      this.inst = 0;
      throw new RangeError(`fvad rejected mode ${mode} / sample rate ${sampleRate}`);
    }
  }

  /** true = speech. Frames must be 10, 20 or 30 ms at the instance's rate. */
  isSpeech(samples: Int16Array): boolean {
    if (!this.inst) throw new Error('VAD used after close()');
    const m = mod();
    if (samples.length > scratchSamples) {
      if (scratchPtr) m._free(scratchPtr);
      scratchPtr = m._malloc(samples.length * 2);
      scratchSamples = samples.length;
    }
    // HEAP16 is re-read each call: the view is replaced if WASM memory grows.
    m.HEAP16.set(samples, scratchPtr >> 1);
    const r = m._fvad_process(this.inst, scratchPtr, samples.length);
    if (r < 0) throw new Error(`fvad_process failed for a ${samples.length}-sample frame`);
    return r === 1;
  }

  reset(): void {
    if (this.inst) mod()._fvad_reset(this.inst);
  }

  close(): void {
    if (!this.inst) return;
    mod()._fvad_free(this.inst);
    this.inst = 0;
  }
}
