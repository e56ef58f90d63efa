/** G.711 mu-law codec (8-bit, 8 kHz on the phone network). Silence is 0xFF, not 0x00. */
import alawmulaw from 'alawmulaw';

export const MULAW_SILENCE = 0xff;
/** 8 kHz, 20 ms: the size of one Twilio media frame. */
export const FRAME_BYTES_8K = 160;
export const FRAME_MS = 20;

export function mulawDecode(bytes: Uint8Array): Int16Array {
  return alawmulaw.mulaw.decode(bytes);
}

export function mulawEncode(samples: Int16Array): Uint8Array {
  return alawmulaw.mulaw.encode(samples);
}

export function mulawSilence(bytes: number): Uint8Array {
  return new Uint8Array(bytes).fill(MULAW_SILENCE);
}

export function alawEncode(samples: Int16Array): Uint8Array {
  return alawmulaw.alaw.encode(samples);
}

/** Milliseconds of 8 kHz mu-law audio in a byte count. */
export const mulawMs = (bytes: number): number => bytes / 8;
