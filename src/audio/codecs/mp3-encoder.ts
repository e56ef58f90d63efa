/**
 * Incremental MP3 encoding through LAME's JavaScript port, @breezystack/lamejs. It is
 * LGPL-3.0, so it is an optional dependency, loaded on first use; without it MP3 output fails
 * with Mp3EncoderUnavailable, whose message says what to install. (No permissively licensed
 * MP3 encoder is published on the npm registry: every one found is LAME or a port of it.)
 * LAME picks the output rate itself, and at 32 kbps from 44.1 kHz input it picks 22.05 kHz: the
 * port offers no way to force it, so mp3_44100_32 comes out at 22.05 kHz (every other format at
 * the rate its name gives).
 */
export const MP3_ENCODER_PACKAGE = '@breezystack/lamejs';

/** lamejs returns Int8Array views of its own buffers. */
interface LameEncoder {
  encodeBuffer(left: Int16Array): ArrayBufferView;
  flush(): ArrayBufferView;
}
const bytes = (v: ArrayBufferView): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
type LameCtor = new (channels: number, sampleRate: number, kbps: number) => LameEncoder;

export class Mp3EncoderUnavailable extends Error {
  override name = 'Mp3EncoderUnavailable';
}

let loading: Promise<LameCtor> | undefined;

/** Loads the encoder once; rejects with Mp3EncoderUnavailable when the package is absent. */
export function loadMp3Encoder(pkg = MP3_ENCODER_PACKAGE): Promise<LameCtor> {
  const load = async (): Promise<LameCtor> => {
    try {
      // eslint-disable-next-line no-restricted-syntax -- a package name (the optional LGPL encoder), never a voice module
      const m = (await import(pkg)) as { Mp3Encoder?: LameCtor; default?: { Mp3Encoder?: LameCtor } };
      const ctor = m.Mp3Encoder ?? m.default?.Mp3Encoder;
      if (!ctor) throw new Error(`${pkg} has no Mp3Encoder export`);
      return ctor;
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
    this.lame = new Ctor(1, sampleRate, kbps);
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
