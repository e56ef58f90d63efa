/** The public audio helpers (G.711 mu-law, WAV, resampling) the tools share with the product. */
export { FRAME_BYTES_8K, FRAME_MS, MULAW_SILENCE, mulawDecode, mulawEncode, mulawSilence } from './mulaw.js';
export { WavError, encodeWavMulaw, encodeWavPcm16, parseWav, wavToPcm16, type WavAudio } from './wav.js';
export { initResampler, resample } from './resampler.js';
