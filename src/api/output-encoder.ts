/**
 * The 28 ElevenLabs output formats as incremental encoders: 16 kHz mono PCM16 in (the engine's
 * output, block by block), bytes out as soon as they exist, so /stream sends audio while the
 * conversion is still running.
 *   mp3_<rate>_<kbps>  MP3 (optional LGPL encoder, see ../audio/codecs/mp3-encoder.ts), audio/mpeg
 *   opus_48000_<kbps>  Ogg Opus, audio/ogg
 *   pcm_<rate>         headerless S16LE mono, audio/pcm
 *   ulaw_8000, alaw_8000  headerless G.711, audio/basic, audio/x-alaw-basic
 *   wav_<rate>         RIFF/WAVE PCM16 mono (length known up front), audio/wav
 */
import { alawEncode, mulawEncode } from '../audio/mulaw.js';
import { RateConverter } from '../audio/rate-converter.js';
import { loadMp3Encoder, Mp3StreamEncoder } from '../audio/codecs/mp3-encoder.js';
import { OggOpusEncoder } from '../audio/codecs/ogg-opus-encoder.js';
import { pcm16Bytes } from '../audio/codecs/pcm.js';
import { encodeWavPcm16 } from '../audio/wav.js';
import type { OutputFormat } from './sts-request.js';

export interface OutputEncoder {
  readonly contentType: string;
  /** Encoded bytes for the next piece of 16 kHz input. */
  push(pcm16k: Int16Array): Uint8Array[];
  /** Whatever the encoder still holds. */
  end(): Uint8Array[];
  /** Frees native state when a request stops early. Idempotent. */
  destroy(): void;
}

export interface FormatInfo {
  codec: 'mp3' | 'opus' | 'pcm' | 'ulaw' | 'alaw' | 'wav';
  sampleRate: number;
  /** kbps for mp3 and opus */
  bitrate?: number;
}

export function formatInfo(format: OutputFormat): FormatInfo {
  const [codec, rate, kbps] = format.split('_') as [FormatInfo['codec'], string, string | undefined];
  return { codec, sampleRate: Number(rate), ...(kbps !== undefined && { bitrate: Number(kbps) }) };
}

const CONTENT_TYPES: Record<FormatInfo['codec'], string> = {
  mp3: 'audio/mpeg',
  opus: 'audio/ogg',
  pcm: 'audio/pcm',
  ulaw: 'audio/basic',
  alaw: 'audio/x-alaw-basic',
  wav: 'audio/wav',
};

/**
 * An encoder for a format. `totalSamples16k` (the whole output's length) is needed for WAV's
 * header. MP3 loads its optional encoder here and rejects with Mp3EncoderUnavailable.
 */
export async function createOutputEncoder(format: OutputFormat, totalSamples16k: number): Promise<OutputEncoder> {
  const info = formatInfo(format);
  const Lame = info.codec === 'mp3' ? await loadMp3Encoder() : undefined;
  const rate = new RateConverter(16000, info.sampleRate);
  let encode: (pcm: Int16Array) => Uint8Array[];
  let finish: () => Uint8Array[] = () => [];
  let free: () => void = () => undefined;
  switch (info.codec) {
    case 'mp3': {
      const mp3 = new Mp3StreamEncoder(Lame!, info.sampleRate, info.bitrate!);
      encode = (p) => mp3.push(p);
      finish = () => mp3.end();
      break;
    }
    case 'opus': {
      const opus = new OggOpusEncoder(info.bitrate! * 1000);
      encode = (p) => opus.push(p);
      finish = () => opus.end();
      free = () => opus.destroy();
      break;
    }
    case 'ulaw':
      encode = (p) => (p.length ? [mulawEncode(p)] : []);
      break;
    case 'alaw':
      encode = (p) => (p.length ? [alawEncode(p)] : []);
      break;
    case 'pcm':
      encode = (p) => (p.length ? [pcm16Bytes(p.slice())] : []);
      break;
    case 'wav': {
      let header: Uint8Array | undefined = encodeWavPcm16(new Int16Array(0), info.sampleRate);
      // The header's sizes, for the length the output will have.
      const n = Math.round((totalSamples16k * info.sampleRate) / 16000);
      const dv = new DataView(header.buffer, header.byteOffset, header.byteLength);
      dv.setUint32(4, 36 + n * 2, true);
      dv.setUint32(40, n * 2, true);
      encode = (p) => {
        const out = header ? [header] : [];
        header = undefined;
        if (p.length) out.push(pcm16Bytes(p.slice()));
        return out;
      };
      break;
    }
  }
  let done = false;
  return {
    contentType: CONTENT_TYPES[info.codec],
    push: (pcm16k) => encode(rate.push(pcm16k)),
    end: () => {
      done = true;
      const out = [...encode(rate.end()), ...finish()];
      rate.destroy();
      return out;
    },
    destroy: () => {
      if (done) return;
      done = true;
      rate.destroy();
      free();
    },
  };
}
