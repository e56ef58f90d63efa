/**
 * Optional noise suppression before masking: RNNoise (BSD-3-Clause, WASM) at 48 kHz in 10 ms
 * frames. One Denoiser per stream or phrase (RNNoise keeps state); destroy() frees it.
 */
import createRnnoiseModule from '@echogarden/rnnoise-wasm';
import { Resampler } from '../../audio/resampler.js';
import type { Prefilter } from './processor.js';

interface RnnoiseModule {
  _rnnoise_create(model: number): number;
  _rnnoise_destroy(st: number): void;
  _rnnoise_process_frame(st: number, out: number, input: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPF32: Float32Array;
}

const FRAME = 480;
/** RNNoise's own delay at 48 kHz: its output lags its input by one frame. */
export const RNNOISE_DELAY_48K = FRAME;

let modulePromise: Promise<RnnoiseModule> | undefined;
let rnnoise: RnnoiseModule | undefined;

/** Loads the WASM module once (on first use: callers await it before denoising). */
export async function initDenoise(): Promise<void> {
  if (rnnoise) return;
  modulePromise ??= (createRnnoiseModule as unknown as () => Promise<RnnoiseModule>)().catch((err: unknown) => {
    modulePromise = undefined; // let a later call retry
    throw err;
  });
  rnnoise = await modulePromise;
}

export function denoiseReady(): boolean {
  return rnnoise !== undefined;
}

/** Streaming 16 kHz denoiser: process() returns as many samples as it is given, delayed by `delay16k`. */
export class Denoiser {
  private readonly m: RnnoiseModule;
  private st: number;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private readonly up = new Resampler(16000, 48000, 5);
  private readonly down = new Resampler(48000, 16000, 5);
  private pending = new Float32Array(FRAME);
  private pendingLen = 0;
  private destroyed = false;

  constructor() {
    if (!rnnoise) throw new Error('denoiser not loaded: await initDenoise() first');
    this.m = rnnoise;
    this.st = this.m._rnnoise_create(0);
    this.inPtr = this.m._malloc(FRAME * 4);
    this.outPtr = this.m._malloc(FRAME * 4);
  }

  /** Input-to-output delay of process(), in 16 kHz samples. */
  get delay16k(): number {
    return this.up.latencySamples / 3 + RNNOISE_DELAY_48K / 3 + this.down.latencySamples;
  }

  process(pcm: Int16Array): Int16Array {
    const x48 = this.up.process(pcm);
    const y48 = new Int16Array(Math.floor((this.pendingLen + x48.length) / FRAME) * FRAME);
    let w = 0;
    const heap = () => this.m.HEAPF32;
    for (let i = 0; i < x48.length; i++) {
      this.pending[this.pendingLen++] = x48[i]!;
      if (this.pendingLen === FRAME) {
        heap().set(this.pending, this.inPtr >> 2);
        this.m._rnnoise_process_frame(this.st, this.outPtr, this.inPtr);
        const o = heap().subarray(this.outPtr >> 2, (this.outPtr >> 2) + FRAME);
        for (let j = 0; j < FRAME; j++) {
          const v = Math.round(o[j]!);
          y48[w++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
        }
        this.pendingLen = 0;
      }
    }
    return this.down.process(y48.subarray(0, w));
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.m._rnnoise_destroy(this.st);
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
    this.up.destroy();
    this.down.destroy();
    this.st = 0;
  }
}

/**
 * A fresh denoiser as a masking prefilter (see maskBlocks). The resamplers skip their own delay,
 * so only RNNoise's frame of delay remains to undo. RNNoise must be loaded (initDenoise()).
 */
export function denoisePrefilter(): Prefilter {
  const d = new Denoiser();
  return {
    delay: RNNOISE_DELAY_48K / 3,
    flushSamples: RNNOISE_DELAY_48K / 3 + 2 * FRAME,
    process: (x) => d.process(x),
    destroy: () => d.destroy(),
  };
}
