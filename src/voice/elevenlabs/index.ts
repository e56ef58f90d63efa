export { ElevenLabsConverter, createElevenLabsConverter, buildStsUrl, OUTPUT_FORMAT, type ElevenLabsOptions } from './client.js';
export { errorFromResponse, errorFromTransport, parseErrorBody } from './failures.js';
export { parseRetryAfter, readConcurrencyHeaders, type AccountConcurrency } from './headers.js';
