/**
 * Playout toward one Twilio stream: converted audio goes out in the order the phrases were
 * spoken, even when conversions overlap, paced by a deadline clock a little ahead of real
 * time (each send moves the deadline one chunk on; after an underrun it re-anchors to now), so
 * that a barge-in can still drop what Twilio has not received.
 *
 * Writers only enqueue (slot.write/end/fail, bargeIn); one clock task sends, on its own turn of
 * the event loop: nothing is sent from inside an inbound message handler, so a send that ends
 * the call (a slow consumer) never re-enters the code that was handling the caller's audio.
 *
 * It accepts only MaskedAudio (see src/voice/masked.ts): raw caller audio cannot be queued.
 */
import type { MaskedAudio } from '../voice/masked.js';
import type { MaskedOutput, OutputSlot } from '../voice/converter.js';
import { MULAW_SILENCE } from '../audio/mulaw.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';

export interface PlayoutSink {
  sendMedia(mulaw: Uint8Array): boolean;
  sendMark(name: string): boolean;
  sendClear(): boolean;
}

export interface PlayoutOptions {
  /** Size of each outbound media message, 20..100 ms. */
  chunkMs: number;
  /**
   * How far ahead of real time audio is handed to Twilio: a cushion against network jitter.
   * It adds no latency (audio is sent as soon as it exists); it only bounds how much of a
   * backlog sits in Twilio's buffer rather than ours.
   */
  leadMs?: number;
  /** A barge-in clears the queue only when more than this much audio is waiting (0 = never). */
  clearBacklogMs: number;
}

type Item = { kind: 'audio'; bytes: Uint8Array } | { kind: 'mark'; name: string };

/**
 * Most audio one Playout holds, however fast it is written. Playback drains it in real time, so
 * only a peer sending faster than real time (streaming mode plays what comes in) can reach it:
 * past it, new audio is dropped (silence), so memory per call stays bounded (about 1 MB).
 */
export const MAX_QUEUED_MS = 120_000;

/** Marks remembered while unechoed (a peer that never echoes cannot grow them without bound). */
const MAX_TRACKED_MARKS = 256;

function remember(set: Set<string>, name: string): void {
  set.add(name);
  if (set.size > MAX_TRACKED_MARKS) set.delete(set.values().next().value!);
}

/** One phrase's place in the playout order. Written by its conversion, read by the clock. */
export class PlayoutSlot implements OutputSlot {
  /** @internal */ items: Item[] = [];
  /** @internal */ offset = 0;
  /** @internal */ queuedBytes = 0;
  /** @internal */ ended = false;
  /** @internal */ dropped = false;
  private readonly ctl = new AbortController();

  constructor(
    readonly name: string,
    private readonly owner: Playout,
  ) {}

  /** Aborted when the slot is cleared (barge-in) or the playout closes: stop converting. */
  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  write(audio: MaskedAudio): void {
    if (this.ended || this.dropped || audio.length === 0) return;
    if (!this.owner.hasRoom(audio.length)) return;
    this.items.push({ kind: 'audio', bytes: audio });
    this.queuedBytes += audio.length;
    this.owner.wake();
  }

  /** A mark after everything written so far (streaming mode marks phrase ends this way). */
  mark(name: string): void {
    if (this.ended || this.dropped) return;
    this.items.push({ kind: 'mark', name });
    this.owner.wake();
  }

  /** The phrase's audio is complete: a mark follows it. */
  end(): void {
    if (this.ended || this.dropped) return;
    this.items.push({ kind: 'mark', name: this.name });
    this.ended = true;
    this.owner.wake();
  }

  /** The conversion failed: whatever arrived plays, nothing more; the queue moves on. */
  fail(): void {
    if (this.ended || this.dropped) return;
    this.ended = true;
    this.owner.wake();
  }

  /** @internal */
  drop(): void {
    this.dropped = true;
    this.ended = true;
    this.items = [];
    this.queuedBytes = 0;
    this.ctl.abort(new Error('cleared'));
  }
}

export class Playout implements MaskedOutput {
  private readonly slots: PlayoutSlot[] = [];
  private readonly chunkBytes: number;
  private readonly leadMs: number;
  private timer: NodeJS.Timeout | undefined;
  private scheduled: NodeJS.Immediate | undefined;
  /** A barge-in asked for Twilio's buffer to be cleared: the clock sends it first. */
  private clearPending = false;
  /** Marks sent and not echoed yet; after a clear they belong to cleared audio. */
  private readonly unechoed = new Set<string>();
  private readonly cleared = new Set<string>();
  /** Deadline clock: when Twilio will have played everything sent so far. */
  private playedThrough = 0;
  private closed = false;
  private seq = 0;
  private readonly partial: Uint8Array;
  private partialLen = 0;
  private overflowed = false;

  constructor(
    private readonly sink: PlayoutSink,
    private readonly opts: PlayoutOptions,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.chunkBytes = opts.chunkMs * 8;
    this.leadMs = opts.leadMs ?? Math.max(100, opts.chunkMs * 3);
    this.partial = new Uint8Array(this.chunkBytes);
  }

  /** A new slot at the end of the order. */
  openSlot(prefix = 'phrase'): PlayoutSlot {
    const slot = new PlayoutSlot(`${prefix}-${++this.seq}`, this);
    if (this.closed) slot.drop();
    else this.slots.push(slot);
    return slot;
  }

  /** Audio waiting here plus audio handed to Twilio but not yet played, in ms. */
  backlogMs(): number {
    let bytes = this.partialLen;
    for (const s of this.slots) bytes += s.queuedBytes;
    return bytes / 8 + Math.max(0, this.playedThrough - this.now());
  }

  /**
   * The listener started speaking. If a long backlog is waiting, drop it (its conversions are
   * cancelled through the slots' signals) and have the clock tell Twilio to clear its buffer.
   * Returns whether anything was cleared.
   */
  bargeIn(): boolean {
    if (this.closed || this.opts.clearBacklogMs <= 0 || this.backlogMs() <= this.opts.clearBacklogMs) return false;
    const dropped = this.slots.filter((s) => !s.dropped).length;
    for (const s of this.slots.splice(0)) s.drop();
    this.partialLen = 0;
    this.playedThrough = this.now();
    for (const m of this.unechoed) remember(this.cleared, m);
    this.unechoed.clear();
    this.clearPending = true;
    metrics.clears.inc();
    this.log.info({ droppedPhrases: dropped }, 'listener spoke over a long backlog: playback cleared');
    this.wake();
    return true;
  }

  /** @internal Whether `bytes` more fit under MAX_QUEUED_MS; logs the first overflow. */
  hasRoom(bytes: number): boolean {
    let queued = this.partialLen + bytes;
    for (const s of this.slots) queued += s.queuedBytes;
    if (queued <= MAX_QUEUED_MS * 8) return true;
    if (!this.overflowed) {
      this.overflowed = true;
      this.log.warn({ maxQueuedMs: MAX_QUEUED_MS }, 'audio is arriving faster than it can play: dropping the excess');
    }
    return false;
  }

  /**
   * Twilio echoed a mark: the audio before it was played, unless a clear came in between
   * (Twilio echoes the marks of cleared audio too). Returns whether the mark means "played".
   */
  onMarkEchoed(name: string): boolean {
    if (this.cleared.delete(name)) {
      this.log.debug({ mark: name }, 'mark echoed for cleared audio');
      return false;
    }
    return this.unechoed.delete(name);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    if (this.scheduled) clearImmediate(this.scheduled);
    this.timer = undefined;
    this.scheduled = undefined;
    for (const s of this.slots.splice(0)) s.drop();
  }

  /** @internal Something was written: the clock runs on its next turn (never on the writer's stack). */
  wake(): void {
    if (this.closed || this.scheduled) return;
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      clearTimeout(this.timer);
      this.tick();
    });
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    if (this.clearPending) {
      this.clearPending = false;
      this.sink.sendClear();
      if (this.closed) return;
    }
    const now = this.now();
    if (this.playedThrough < now) this.playedThrough = now; // underrun: re-anchor to now
    while (this.playedThrough - now < this.leadMs) {
      if (!this.sendOne() || this.closed) break;
    }
    if (this.closed) return;
    if (this.hasWork()) {
      const wait = Math.max(5, this.playedThrough - this.now() - this.leadMs + this.opts.chunkMs);
      this.timer = setTimeout(() => this.tick(), Math.min(wait, 100));
    }
  }

  private hasWork(): boolean {
    return this.slots.some((s) => s.items.length > 0 || s.ended);
  }

  /** Sends one chunk (or the marks ahead of it). False when nothing can be sent now. */
  private sendOne(): boolean {
    for (;;) {
      const head = this.slots[0];
      if (!head) return false;
      const item = head.items[0];
      if (!item) {
        if (!head.ended) return false; // waiting for this phrase's audio
        this.flushPartial();
        this.slots.shift();
        continue;
      }
      if (item.kind === 'mark') {
        this.flushPartial();
        head.items.shift();
        remember(this.unechoed, item.name);
        this.sink.sendMark(item.name);
        continue;
      }
      // Fill one chunk from this slot's audio.
      while (this.partialLen < this.chunkBytes && head.items[0]?.kind === 'audio') {
        const a = head.items[0] as { kind: 'audio'; bytes: Uint8Array };
        const take = Math.min(this.chunkBytes - this.partialLen, a.bytes.length - head.offset);
        this.partial.set(a.bytes.subarray(head.offset, head.offset + take), this.partialLen);
        this.partialLen += take;
        head.offset += take;
        head.queuedBytes -= take;
        if (head.offset >= a.bytes.length) {
          head.items.shift();
          head.offset = 0;
        }
      }
      if (this.partialLen < this.chunkBytes) {
        // Not a full chunk yet: wait for more unless the phrase is complete.
        if (head.items.length === 0 && !head.ended) return false;
        if (head.items.length > 0) continue; // a mark follows: it pads and sends
        this.flushPartial();
        return true;
      }
      this.emit(this.chunkBytes);
      return true;
    }
  }

  /** A phrase's trailing partial chunk is padded with mu-law silence (0xFF, not 0x00). */
  private flushPartial(): void {
    if (this.partialLen === 0) return;
    this.partial.fill(MULAW_SILENCE, this.partialLen);
    this.emit(this.chunkBytes);
  }

  private emit(bytes: number): void {
    const out = this.partial.slice(0, bytes);
    this.partialLen = 0;
    this.sink.sendMedia(out);
    metrics.framesOut.inc(bytes / 160);
    this.playedThrough += bytes / 8;
  }
}
