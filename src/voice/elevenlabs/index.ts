export { ElevenLabsConverter, createElevenLabsConverter, buildStsUrl, OUTPUT_FORMAT, type ElevenLabsOptions } from './client.js';
export { errorFromResponse, errorFromTransport, parseErrorBody } from './failures.js';
export { parseRetryAfter, readConcurrencyHeaders, type AccountConcurrency } from './headers.js';
export { ElevenLabsVoices, VoiceLookup, voicePath, type ElevenLabsVoicesOptions, type VoiceCheckResult, type VoiceInfo, type VoiceLookupOptions, type VoiceRef, type VoiceState } from './voices.js';
