/**
 * THE FAIL-CLOSED INVARIANT, enforced by types.
 *
 * Playout (src/twilio/media-out.ts) accepts only MaskedAudio. A MaskedAudio value can only be made by
 * asMasked(), and asMasked() is called only inside src/voice/ by converters, on bytes that
 * the converter produced (ElevenLabs' answer, or the embedded engine's output). No other
 * module imports asMasked: the lint rules (tools/lint/eslint.config.js, run by npm test) refuse it.
 * So the only path from a caller's microphone to a listener's ear runs through a converter;
 * on any failure the listener gets nothing (silence), never the input.
 * Two documented exceptions, both in src/voice/: hold-music.ts (synthesized music, or the
 * operator's own recording: nothing of anyone on the call) and passthrough.ts (the customer -> agent leg of a two-party line that masks
 * only the agent; only the two-party line code, src/session/line/, may use it, which the same rules check).
 */
declare const masked: unique symbol;

/** 8 kHz mu-law audio that a converter produced. */
export type MaskedAudio = Uint8Array & { readonly [masked]: true };

/** Brand converter output. Only converters (src/voice/**) may call this. */
export function asMasked(bytes: Uint8Array): MaskedAudio {
  return bytes as MaskedAudio;
}

/** Silence is safe to play: it carries nothing of the speaker. */
export function maskedSilence(bytes: number): MaskedAudio {
  return new Uint8Array(bytes).fill(0xff) as MaskedAudio;
}

/** Part of masked audio is masked audio (a view, no copy). */
export function maskedSlice(audio: MaskedAudio, start: number, end?: number): MaskedAudio {
  return audio.subarray(start, end) as MaskedAudio;
}
