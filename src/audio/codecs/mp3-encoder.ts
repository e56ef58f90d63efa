/**
 * Incremental MP3 encoding through LAME's JavaScript port, @breezystack/lamejs. It is
 * LGPL-3.0, so it is an optional dependency, loaded on first use; without it MP3 output fails
 * with Mp3EncoderUnavailable, whose message says what to install. (No permissively licensed
 * MP3 encoder is published on the npm registry: every one found is LAME or a port of it.)
 *
 * LAME picks the output rate itself unless told (at 32 kbps from 44.1 kHz it picks 22.05 kHz),
 * and the port's Mp3Encoder(channels, rate, kbps) does not pass one on. So the port's
 * self-contained build is loaded with one change: a fourth argument sets LAME's out_samplerate,
 * and every format comes out at the rate its name gives. Should a later version of the port
 * no longer match, it is loaded as published and LAME's own choice stands (mp3RateForced false).
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { compileFunction } from 'node:vm';

export const MP3_ENCODER_PACKAGE = '@breezystack/lamejs';

/** lamejs returns Int8Array views of its own buffers. */
interface LameEncoder {
  encodeBuffer(left: Int16Array): ArrayBufferView;
  flush(): ArrayBufferView;
}
const bytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
type LameCtor = new (channels: number, sampleRate: number, kbps: number, outSampleRate?: number) => LameEncoder;

export class Mp3EncoderUnavailable extends Error {
  override name = 'Mp3EncoderUnavailable';
}

/** The two places in the port's IIFE build (dist/lamejs.iife.js, 1.2.x) that the rate passes. */
const ARITY_CHECK = 'arguments.length!=3&&';
const INIT_PARAMS = 'R.write_id3tag_automatic=!1,z.lame_init_params(R)';

/** The IIFE source with out_samplerate settable, or undefined when it does not match. */
export function withOutputRate(src: string): string | undefined {
  if (src.split(ARITY_CHECK).length !== 2 || src.split(INIT_PARAMS).length !== 2) return undefined;
  return src
    .replace(ARITY_CHECK, 'arguments.length<3&&')
    .replace(INIT_PARAMS, 'R.write_id3tag_automatic=!1,arguments.length>3&&(R.out_samplerate=arguments[3]),z.lame_init_params(R)');
}

/** True once the loaded encoder honours the output rate (false: LAME picks it). */
export let mp3RateForced = false;
/**
 * The constructors built from the patched source. Only they are given the fourth argument: the
 * port as published resets every setting to mono 44.1 kHz 128 kbps when it gets more than three.
 */
const RATE_SETTABLE = new WeakSet<LameCtor>();

async function importLame(pkg: string): Promise<LameCtor> {
  if (pkg === MP3_ENCODER_PACKAGE) {
    const file = createRequire(import.meta.url).resolve(pkg); // "require" condition: the IIFE build
    const patched = withOutputRate(await readFile(file, 'utf8'));
    if (patched) {
      const lamejs = compileFunction(`${patched}\nreturn lamejs;`, [], { filename: file })() as { Mp3Encoder?: LameCtor };
      if (lamejs.Mp3Encoder) {
        mp3RateForced = true;
        RATE_SETTABLE.add(lamejs.Mp3Encoder);
        return lamejs.Mp3Encoder;
      }
    }
  }
  // eslint-disable-next-line no-restricted-syntax -- a package name (the optional LGPL encoder), never a voice module
  const m = (await import(pkg)) as { Mp3Encoder?: LameCtor; default?: { Mp3Encoder?: LameCtor } };
  const ctor = m.Mp3Encoder ?? m.default?.Mp3Encoder;
  if (!ctor) throw new Error(`${pkg} has no Mp3Encoder export`);
  return ctor;
}

let loading: Promise<LameCtor> | undefined;

/** Loads the encoder once; rejects with Mp3EncoderUnavailable when the package is absent. */
export function loadMp3Encoder(pkg = MP3_ENCODER_PACKAGE): Promise<LameCtor> {
  const load = async (): Promise<LameCtor> => {
    try {
      return await importLame(pkg);
    } catch (err) {
      throw new Mp3EncoderUnavailable(
        `MP3 output needs the optional package ${pkg} (LGPL-3.0), which is not installed (${(err as Error).message.split('\n')[0]}): ` +
          `install it with "npm install ${pkg}", or ask for another output_format (opus_48000_*, pcm_*, wav_*, ulaw_8000, alaw_8000)`,
      );
    }
  };
  if (pkg !== MP3_ENCODER_PACKAGE) return load();
  loading ??= load();
  loading.catch(() => (loading = undefined)); // retried on the next request, e.g. after an install
  return loading;
}

/** Samples LAME encodes per call: whole MP3 granules keep its internal buffers small. */
const SLICE = 1152 * 8;

export class Mp3StreamEncoder {
  private readonly lame: LameEncoder;

  constructor(Ctor: LameCtor, sampleRate: number, kbps: number) {
    this.lame = RATE_SETTABLE.has(Ctor) ? new Ctor(1, sampleRate, kbps, sampleRate) : new Ctor(1, sampleRate, kbps);
  }

  push(pcm: Int16Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let o = 0; o < pcm.length; o += SLICE) {
      const b = this.lame.encodeBuffer(pcm.subarray(o, o + SLICE));
      if (b.byteLength > 0) out.push(bytes(b));
    }
    return out;
  }

  end(): Uint8Array[] {
    const b = this.lame.flush();
    return b.byteLength > 0 ? [bytes(b)] : [];
  }
}
