/**
 * Phrase segmenter: 20 ms frames of 8 kHz PCM in, phrases (and chunks of long turns) out.
 *
 * Frame decision = WebRTC VAD (fvad) AND an energy gate above an adaptive noise floor.
 * fvad alone calls broadband hiss and crowd noise speech (the 1961 JFK recording is ~100 %
 * "speech" for it at every mode); the gate needs the frame to stand GATE_DB (HOLD_GATE_DB once
 * a phrase is open) above the floor = minimum frame level over the last ~3 s, tracked with
 * block minima (O(1) per frame), and above MIN_SPEECH_DBFS.
 *
 * State machine (per stream):
 *   idle     -> a run of `startMs` speech frames confirms an onset: 'speech-start'; the phrase
 *               begins `prerollMs` before the run (taken from a small ring of recent frames).
 *   inPhrase -> `hangoverMs` of non-speech ends it: 'phrase' (audio up to the last speech frame
 *               plus TAIL_MS) or 'discarded' when its speech lasted under `minPhraseMs`.
 *               At `maxPhraseMs` of audio it is cut after the quietest frame of the last
 *               SPLIT_SEARCH_MS; the remainder continues as the next phrase (no loss, no overlap).
 * One 'speech-start' opens an utterance; the utterance yields one 'discarded', or one or more
 * 'phrase' events, all but the last with reason 'max-length': 'max-length' always means the
 * speaker is mid-speech and the next phrase continues the utterance (contiguous audio). No second
 * 'speech-start' is emitted for it: the speaker never stopped, so it is not a new barge-in. If the
 * limit falls in a pause (no speech after the split point), the phrase closes as 'hangover'.
 * A continuation is sent whatever its length (it is the rest of real speech, not a click).
 *
 * Chunking long turns (chunkMinMs > 0): once the open phrase holds chunkMinMs of audio, the
 * first micro-pause (chunkPauseMs of non-speech frames, shorter than the hangover) closes a
 * chunk in the middle of the pause, reason 'pause'; the turn continues in the next chunk exactly
 * as after a 'max-length' split (contiguous audio, no new 'speech-start'). maxPhraseMs is then the
 * chunk limit: the max-length split searches only the part of the chunk past chunkMinMs.
 */
import { FRAME_BYTES_8K, FRAME_MS } from '../../audio/mulaw.js';
import { FvadInstance } from './fvad.js';

export interface SegmenterOptions {
  /** fvad aggressiveness, 0 (least) to 3 (most likely to call a frame non-speech). */
  mode: 0 | 1 | 2 | 3 | number;
  /** Consecutive speech needed to confirm an onset. */
  startMs: number;
  /** Audio kept before the onset. */
  prerollMs: number;
  /** Non-speech that ends a phrase. */
  hangoverMs: number;
  /** Utterances with less speech than this are discarded (clicks, coughs). */
  minPhraseMs: number;
  /** Longest phrase or chunk (audio, pre-roll included); longer speech is split. */
  maxPhraseMs: number;
  /** A chunk may close at a micro-pause once it holds this much audio (0: no micro-pause cuts). */
  chunkMinMs?: number;
  /** Non-speech that counts as a micro-pause inside a turn (below hangoverMs). */
  chunkPauseMs?: number;
}

export type SegmentEvent =
  | { type: 'speech-start'; atMs: number }
  | { type: 'phrase'; pcm: Int16Array; startMs: number; endMs: number; reason: 'hangover' | 'max-length' | 'pause' | 'end-of-stream' }
  | { type: 'discarded'; startMs: number; endMs: number; reason: 'too-short' };

/** Silence kept after the last speech frame of a phrase. */
export const TAIL_MS = 100;
/** How far back from the limit a max-length split looks for the quietest frame. */
export const SPLIT_SEARCH_MS = 1500;
/** To open a phrase, speech frames must stand this far above the noise floor ... */
export const GATE_DB = 10;
/**
 * ... and, inside a phrase, this far (hysteresis): weak syllables in 10 dB SNR noise keep the
 * phrase open instead of shredding it (tuned on the noisy clip: coverage 96 % -> 98 %).
 */
export const HOLD_GATE_DB = 8;
/** ... and above this absolute level (dBFS), whatever the floor. */
export const MIN_SPEECH_DBFS = -55;
/**
 * Frames quieter than this (digital silence, dropouts, 0xFF padding) do not count towards the
 * floor: a stretch of them before hiss would otherwise pin the floor 20-30 dB under the real
 * noise for the whole window (JFK opens with 60 ms of digital silence). If the window holds
 * nothing louder, the floor is this value.
 */
const FLOOR_MIN_DBFS = -65;
/** Noise floor = min frame level over FLOOR_BLOCKS blocks of FLOOR_BLOCK_FRAMES frames (~3 s). */
const FLOOR_BLOCK_FRAMES = 10;
const FLOOR_BLOCKS = 15;

const FRAME_SAMPLES = FRAME_BYTES_8K;
/** dBFS of a full-scale square wave is 0; 10*log10(mean square / 32768^2). */
const FULL_SCALE_SQ = 32768 * 32768;

type State = 'idle' | 'inPhrase';
type Phrase = Extract<SegmentEvent, { type: 'phrase' }>;

export class PhraseSegmenter {
  private readonly vad: FvadInstance;
  private readonly startFrames: number;
  private readonly prerollFrames: number;
  private readonly hangoverFrames: number;
  private readonly minPhraseFrames: number;
  private readonly maxFrames: number;
  private readonly tailFrames: number;
  private readonly searchFrames: number;
  private readonly chunkMinFrames: number;
  private readonly pauseFrames: number;

  /** Stream frame counter: frame i covers [i*20, (i+1)*20) ms. */
  private frameNo = 0;
  private closed = false;

  // Noise floor (dB) by block minima.
  private readonly blockMins = new Float64Array(FLOOR_BLOCKS).fill(Infinity);
  private blockIdx = 0;
  private blockFill = 0;
  private blockMin = Infinity;

  // Ring of the most recent frames while idle (pre-roll + onset run).
  private readonly ring: Int16Array;
  private readonly ringEnergy: Float64Array;
  private readonly ringCap: number;
  private ringCount = 0;
  private ringHead = 0; // next write slot

  // Current phrase: audio and per-frame energy, bounded by maxFrames.
  private readonly buf: Int16Array;
  private readonly bufEnergy: Float64Array;
  private bufFrames = 0;
  /** Stream frame number of buf[0]. */
  private bufStartFrame = 0;

  private state: State = 'idle';
  private speechRun = 0;
  /** Stream frame of the confirmed onset of the current utterance. */
  private onsetFrame = 0;
  /** Stream frame of the last speech frame in the current phrase, or -1 if it has none. */
  private lastSpeechFrame = -1;
  private silenceRun = 0;
  /** true while the current phrase is the continuation of a max-length split. */
  private continuation = false;

  constructor(opts: SegmenterOptions) {
    const frames = (ms: number, name: string, min: number): number => {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`${name} must be a non-negative number of ms, got ${ms}`);
      return Math.max(min, Math.ceil(ms / FRAME_MS));
    };
    this.startFrames = frames(opts.startMs, 'startMs', 1);
    this.prerollFrames = frames(opts.prerollMs, 'prerollMs', 0);
    this.hangoverFrames = frames(opts.hangoverMs, 'hangoverMs', 1);
    this.minPhraseFrames = frames(opts.minPhraseMs, 'minPhraseMs', 0);
    this.maxFrames = frames(opts.maxPhraseMs, 'maxPhraseMs', 1);
    if (this.maxFrames <= this.prerollFrames + this.startFrames + 1) {
      throw new RangeError(`maxPhraseMs (${opts.maxPhraseMs}) must exceed prerollMs + startMs (${opts.prerollMs} + ${opts.startMs})`);
    }
    this.tailFrames = Math.min(Math.ceil(TAIL_MS / FRAME_MS), this.hangoverFrames);
    this.chunkMinFrames = opts.chunkMinMs ? Math.min(frames(opts.chunkMinMs, 'chunkMinMs', 1), this.maxFrames - 1) : 0;
    this.pauseFrames = this.chunkMinFrames ? Math.min(frames(opts.chunkPauseMs ?? 160, 'chunkPauseMs', 1), this.hangoverFrames - 1) : 0;
    // With chunking the split looks past the minimum chunk only; without, up to SPLIT_SEARCH_MS back.
    const search = this.chunkMinFrames ? Math.max(1, this.maxFrames - this.chunkMinFrames) : Math.ceil(SPLIT_SEARCH_MS / FRAME_MS);
    this.searchFrames = Math.min(search, this.maxFrames - 1);
    this.ringCap = this.prerollFrames + this.startFrames;
    this.ring = new Int16Array(this.ringCap * FRAME_BYTES_8K);
    this.ringEnergy = new Float64Array(this.ringCap);
    this.buf = new Int16Array(this.maxFrames * FRAME_BYTES_8K);
    this.bufEnergy = new Float64Array(this.maxFrames);
    this.vad = new FvadInstance(opts.mode, 8000);
  }

  /** Stream time in ms (frames pushed x 20 ms). */
  get timeMs(): number {
    return this.frameNo * FRAME_MS;
  }

  push(frame: Int16Array): SegmentEvent[] {
    if (this.closed) throw new Error('PhraseSegmenter used after close()');
    if (!(frame instanceof Int16Array) || frame.length !== FRAME_SAMPLES) {
      throw new RangeError(
        `PhraseSegmenter.push expects one 20 ms frame of 8 kHz PCM16 (${FRAME_SAMPLES} samples), got ${frame instanceof Int16Array ? `${frame.length} samples` : typeof frame}`,
      );
    }
    const events: SegmentEvent[] = [];
    const n = this.frameNo;

    // Level, noise floor, decision.
    let sumSq = 0;
    const pcm = frame;
    for (let i = 0; i < FRAME_SAMPLES; i++) {
      const s = pcm[i]!;
      sumSq += s * s;
    }
    const meanSq = sumSq / FRAME_SAMPLES;
    const db = meanSq > 0 ? 10 * Math.log10(meanSq / FULL_SCALE_SQ) : -120;
    const floor = this.updateFloor(db);
    const gate = Math.max(MIN_SPEECH_DBFS, floor + (this.state === 'idle' ? GATE_DB : HOLD_GATE_DB));
    // fvad sees every frame (its noise model adapts on the non-speech ones); ~1 us per frame.
    const voiced = this.vad.isSpeech(pcm);
    const speech = voiced && db > gate;

    if (this.state === 'idle') {
      this.ringPush(frame, meanSq);
      this.speechRun = speech ? this.speechRun + 1 : 0;
      if (this.speechRun >= this.startFrames) {
        this.onsetFrame = n - this.startFrames + 1;
        events.push({ type: 'speech-start', atMs: this.onsetFrame * FRAME_MS });
        this.openFromRing(this.startFrames + this.prerollFrames);
        this.state = 'inPhrase';
        this.continuation = false;
        this.lastSpeechFrame = n;
        this.silenceRun = 0;
        this.speechRun = 0;
      }
    } else {
      this.bufAppend(frame, meanSq);
      if (speech) {
        this.lastSpeechFrame = n;
        this.silenceRun = 0;
      } else {
        this.silenceRun++;
      }
      if (this.silenceRun >= this.hangoverFrames) {
        this.endPhrase(events, 'hangover');
      } else if (this.pauseFrames > 0 && this.silenceRun === this.pauseFrames && this.lastSpeechFrame >= this.bufStartFrame) {
        this.cutAtPause(events);
      } else if (this.bufFrames >= this.maxFrames) {
        this.splitAtLimit(events);
      }
    }
    this.frameNo = n + 1;
    return events;
  }

  /** End of stream: emits the open phrase if it is long enough. */
  flush(): SegmentEvent[] {
    if (this.closed) return [];
    const events: SegmentEvent[] = [];
    if (this.state === 'inPhrase') this.endPhrase(events, 'end-of-stream');
    this.ringCount = 0;
    this.speechRun = 0;
    return events;
  }

  /** Frees the native VAD; idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.vad.close();
  }

  // --- internals ---

  private updateFloor(db: number): number {
    if (db > FLOOR_MIN_DBFS && db < this.blockMin) this.blockMin = db;
    if (++this.blockFill === FLOOR_BLOCK_FRAMES) {
      this.blockMins[this.blockIdx] = this.blockMin;
      this.blockIdx = (this.blockIdx + 1) % FLOOR_BLOCKS;
      this.blockMin = Infinity;
      this.blockFill = 0;
    }
    let floor = this.blockMin;
    for (let i = 0; i < FLOOR_BLOCKS; i++) if (this.blockMins[i]! < floor) floor = this.blockMins[i]!;
    return floor === Infinity ? FLOOR_MIN_DBFS : floor;
  }

  private ringPush(frame: Int16Array, energy: number): void {
    if (this.ringCap === 0) return;
    this.ring.set(frame, this.ringHead * FRAME_BYTES_8K);
    this.ringEnergy[this.ringHead] = energy;
    this.ringHead = (this.ringHead + 1) % this.ringCap;
    if (this.ringCount < this.ringCap) this.ringCount++;
  }

  /** Starts the phrase buffer with the last `frames` frames of the ring (the current frame last). */
  private openFromRing(frames: number): void {
    const k = Math.min(frames, this.ringCount);
    for (let j = 0; j < k; j++) {
      const slot = (this.ringHead - k + j + this.ringCap) % this.ringCap;
      this.buf.set(this.ring.subarray(slot * FRAME_BYTES_8K, (slot + 1) * FRAME_BYTES_8K), j * FRAME_BYTES_8K);
      this.bufEnergy[j] = this.ringEnergy[slot]!;
    }
    this.bufFrames = k;
    this.bufStartFrame = this.frameNo + 1 - k;
    this.ringCount = 0;
  }

  private bufAppend(frame: Int16Array, energy: number): void {
    this.buf.set(frame, this.bufFrames * FRAME_BYTES_8K);
    this.bufEnergy[this.bufFrames] = energy;
    this.bufFrames++;
  }

  private emitFrames(events: SegmentEvent[], frames: number, reason: Phrase['reason']): void {
    events.push({
      type: 'phrase',
      pcm: this.buf.slice(0, frames * FRAME_BYTES_8K),
      startMs: this.bufStartFrame * FRAME_MS,
      endMs: (this.bufStartFrame + frames) * FRAME_MS,
      reason,
    });
  }

  /** Closes the phrase at the last speech frame + tail; back to idle. */
  private endPhrase(events: SegmentEvent[], reason: 'hangover' | 'end-of-stream'): void {
    let keep = 0;
    if (this.lastSpeechFrame >= this.bufStartFrame) {
      keep = Math.min(this.bufFrames, this.lastSpeechFrame - this.bufStartFrame + 1 + this.tailFrames);
      const speechFrames = this.lastSpeechFrame - this.onsetFrame + 1;
      if (!this.continuation && speechFrames < this.minPhraseFrames) {
        events.push({
          type: 'discarded',
          startMs: this.onsetFrame * FRAME_MS,
          endMs: (this.lastSpeechFrame + 1) * FRAME_MS,
          reason: 'too-short',
        });
      } else {
        this.emitFrames(events, keep, reason);
      }
    }
    // The unsent hangover frames seed the ring: a new onset soon after can take its pre-roll
    // from them (never from audio already sent, so phrases still never overlap).
    this.ringCount = 0;
    for (let j = Math.max(keep, this.bufFrames - this.ringCap); j < this.bufFrames; j++) {
      this.ringPush(this.buf.subarray(j * FRAME_BYTES_8K, (j + 1) * FRAME_BYTES_8K), this.bufEnergy[j]!);
    }
    this.state = 'idle';
    this.bufFrames = 0;
    this.speechRun = 0;
    this.silenceRun = 0;
    this.lastSpeechFrame = -1;
    this.continuation = false;
  }

  /** The buffer is full: cut after the quietest frame near the limit; keep the rest as the next phrase. */
  private splitAtLimit(events: SegmentEvent[]): void {
    const len = this.bufFrames;
    const e = this.bufEnergy;
    let best = len - 1;
    let bestScore = Infinity;
    // Score = energy smoothed over 3 frames, so a lone dip inside a word loses to a real pause.
    // Ties go to the later frame (longer first phrase).
    for (let i = Math.max(1, len - this.searchFrames); i < len; i++) {
      const score = e[i - 1]! + 2 * e[i]! + (i + 1 < len ? e[i + 1]! : e[i]!);
      if (score <= bestScore) {
        bestScore = score;
        best = i;
      }
    }
    const cut = best + 1; // frames [0, cut) go now
    if (this.lastSpeechFrame < this.bufStartFrame + cut) {
      // No speech after the cut: the speaker has paused (hangover running). Close the phrase as a
      // normal end, so 'max-length' always means "continued in the next phrase".
      this.endPhrase(events, 'hangover');
      return;
    }
    this.emitChunk(events, cut, 'max-length');
  }

  /** A micro-pause inside a long turn: close a chunk in the middle of the pause, if it is long enough. */
  private cutAtPause(events: SegmentEvent[]): void {
    const cut = this.bufFrames - Math.floor(this.pauseFrames / 2);
    if (cut < this.chunkMinFrames) return;
    this.emitChunk(events, cut, 'pause');
  }

  /** Emits frames [0, cut) as a chunk; the rest stays as the start of the next one. */
  private emitChunk(events: SegmentEvent[], cut: number, reason: 'max-length' | 'pause'): void {
    const len = this.bufFrames;
    this.emitFrames(events, cut, reason);
    this.buf.copyWithin(0, cut * FRAME_BYTES_8K, len * FRAME_BYTES_8K);
    this.bufEnergy.copyWithin(0, cut, len);
    this.bufFrames = len - cut;
    this.bufStartFrame += cut;
    this.continuation = true;
  }
}
