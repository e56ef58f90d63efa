/**
 * The voice lab: a few seconds of someone's voice (the browser's microphone, or a file) masked
 * by the embedded engine's facade exactly as a call's audio is: brought down to the phone
 * line's 8 kHz mu-law first, then, in streaming mode, 20 ms frames through the engine's frame
 * stream (what a call in streaming mode uses); otherwise whole, through the engine's phrase
 * path (a call in phrase mode, and ElevenLabs' fallback). The answer carries both the
 * original as the phone line carries it and the masked voice, so they can be compared side by
 * side. Nothing is stored or logged: the audio lives for the request only.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { encodeWavPcm16, mulawDecode, mulawEncode, resample } from '../audio/index.js';
import { AudioDecodeError, decodeToMono16k } from '../audio/codecs/decode.js';
import type { MaskingProfile } from '../pipeline/profile.js';
import { isLocalVoice, LOCAL_VOICES, type LocalEngine } from '../voice/local/index.js';
import type { LabResult, VoiceOption } from './view.js';

/** Longest recording the lab masks. */
export const LAB_MAX_SECONDS = 30;
/** Largest upload, bytes. */
export const LAB_MAX_BYTES = 10 * 1024 * 1024;
/** Frames masked between two hand-backs of the event loop (live calls keep their 20 ms pace). */
const FRAMES_PER_TURN = 10;

export class LabError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function labVoices(): VoiceOption[] {
  return LOCAL_VOICES.map(({ id, name, description }) => ({ id, name, description }));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export class VoiceLab {
  private running = 0;

  constructor(
    private readonly local: LocalEngine,
    private readonly profile: MaskingProfile,
    /** How many recordings may be masked at once (the rest are refused: 429). */
    private readonly maxConcurrent = 2,
  ) {}

  /** How this lab masks, in words. */
  get engine(): string {
    if (this.profile.engine === 'local' && this.profile.mode === 'streaming') return 'embedded engine, streaming (as calls)';
    if (this.profile.engine === 'local') return 'embedded engine, phrase mode (as calls)';
    return "embedded engine (ElevenLabs' fallback), phrase mode";
  }

  async mask(bytes: Uint8Array, voice: string, signal: AbortSignal): Promise<LabResult> {
    if (!isLocalVoice(voice)) throw new LabError(400, `unknown voice "${voice.slice(0, 64)}": expected one of ${LOCAL_VOICES.map((v) => v.id).join(', ')}`);
    if (bytes.length === 0) throw new LabError(400, 'no audio received');
    if (this.running >= this.maxConcurrent) throw new LabError(429, 'the voice lab is busy: try again in a moment');
    this.running++;
    const t0 = performance.now();
    try {
      let decoded;
      try {
        decoded = await decodeToMono16k(bytes, { maxSeconds: LAB_MAX_SECONDS, signal });
      } catch (err) {
        if (err instanceof AudioDecodeError) throw new LabError(err.kind === 'too_long' ? 413 : 415, err.message);
        throw err;
      }
      if (decoded.pcm16k.length < 1600) throw new LabError(400, 'the recording is too short (under 0.1 s)');
      // What the phone line carries: 8 kHz, mu-law.
      const line = mulawEncode(resample(decoded.pcm16k, 16000, 8000));
      const original = mulawDecode(line);
      const masked = mulawDecode(await this.run(original, voice, signal));
      return {
        voice,
        seconds: Math.round((original.length / 8000) * 10) / 10,
        original: encodeWavPcm16(original, 8000).toString('base64'),
        masked: encodeWavPcm16(masked, 8000).toString('base64'),
        engine: this.engine,
        ms: Math.round(performance.now() - t0),
      };
    } finally {
      this.running--;
    }
  }

  private async run(pcm8k: Int16Array, voice: string, signal: AbortSignal): Promise<Uint8Array> {
    const callKey = `lab-${randomBytes(8).toString('hex')}`;
    if (this.profile.engine === 'local' && this.profile.mode === 'streaming') {
      const stream = this.local.openStream({ voiceId: voice, callKey });
      try {
        const parts: Uint8Array[] = [];
        const padded = new Int16Array(Math.ceil(pcm8k.length / 160) * 160);
        padded.set(pcm8k);
        for (let o = 0, n = 0; o < padded.length; o += 160, n++) {
          parts.push(Uint8Array.from(stream.push(padded.subarray(o, o + 160))));
          if (n % FRAMES_PER_TURN === FRAMES_PER_TURN - 1) {
            await nextTurn();
            signal.throwIfAborted();
          }
        }
        parts.push(Uint8Array.from(stream.flush()));
        // The stream runs a fixed delay behind: line the masked voice up with the original.
        const delay = Math.round(this.local.delayMs * 8);
        return concat(parts).subarray(delay, delay + pcm8k.length);
      } finally {
        stream.close();
      }
    }
    const parts: Uint8Array[] = [];
    for await (const chunk of this.local.convert({ pcm: pcm8k, sampleRate: 8000, voiceId: voice, signal, callKey, endedAt: performance.now() })) parts.push(Uint8Array.from(chunk));
    return concat(parts);
  }
}
