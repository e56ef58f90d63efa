export { ElevenLabsConverter, createElevenLabsConverter, buildStsUrl, OUTPUT_FORMAT, type ElevenLabsOptions } from './client.js';
export { errorFromResponse, errorFromTransport, parseErrorBody, parseRetryAfter, readConcurrencyHeaders, type AccountConcurrency } from './http-errors.js';
