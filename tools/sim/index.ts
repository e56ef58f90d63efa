/** The call simulator: the one Twilio client in the codebase (tests, demo and scripts share it). */
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
