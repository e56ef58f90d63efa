/** Encrypted call recordings tapped at the connections' outbound clocks (docs/recordings.md). */
export { Recordings, type CallRecorder, type CallRecording, type Heard, type RecordedLine, type RecordedSession, type RecordingRequest, type RecordingsOptions, type Tappable } from './recordings.js';
export { recipientProblems, AgeFile, AGE_CHUNK_BYTES } from './age-file.js';
export { Timeline } from './timeline.js';
export { streamingWavHeader } from './wav-stream.js';
export type { Sidecar, RecordingStatus } from './sidecar.js';
export type { SweepResult } from './sweep.js';
