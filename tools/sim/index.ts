/**
 * The call simulator: plays Twilio's part toward the bridge (the signed voice webhook, then a
 * Media Streams WebSocket sending a caller's audio in real time and recording what comes back).
 * Tests, the demo and the scripts share it.
 */
export { simulateCall, resolveStreamTarget } from './call.js';
export type { SimulatedCallOptions, SimulatedCallResult, SimProgressEvent, SimHooks, RawStream } from './call.js';
export { SimulatorError, type SimulatorErrorKind } from './errors.js';
export { parseStreamTwiml, decodeXmlEntities, type StreamTwiml } from './twiml.js';
export { PlayoutBuffer, type PlayedSegment, type EchoedMark } from './playout.js';
export {
  detectPhrases,
  phraseLatencies,
  summarizeLatencies,
  percentile,
  mulawDbfs,
  isAudible,
  type Phrase,
  type PhraseLatency,
  type LatencySummary,
  type DetectPhrasesOptions,
} from './phrases.js';
export { findLeakedFrames, isInformativeFrame, toFrames } from './leaks.js';
export { loadAudioAsMulaw8k, decodeAudioToMulaw8k, sniffAudioFormat, type AudioContainer } from './audio-input.js';
export { twilioSignature } from './signing.js';
export { randomSid } from './ids.js';
