import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { MAX_QUEUED_MS, MediaOut, type PlayoutSink } from '../../../src/twilio/media-out.js';
import { asMasked } from '../../../src/voice/masked.js';
import { mulawEncode } from '../../../src/audio/mulaw.js';

type Sent = { kind: 'media'; bytes: Uint8Array } | { kind: 'mark'; name: string } | { kind: 'clear' };

function recorder(): PlayoutSink & { sent: Sent[] } {
  const sent: Sent[] = [];
  return {
    sent,
    sendMedia: (b) => (sent.push({ kind: 'media', bytes: b }), true),
    sendMark: (name) => (sent.push({ kind: 'mark', name }), true),
    sendClear: () => (sent.push({ kind: 'clear' }), true),
  };
}

const log = pino({ level: 'silent' });
const audio = (byte: number, n: number) => asMasked(new Uint8Array(n).fill(byte));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The clock sends on its own turn of the event loop, never on the writer's stack. */
const turn = () => new Promise((r) => setImmediate(r));

/** A manual clock so pacing is deterministic. */
function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('MediaOut', () => {
  it('plays phrases in the order they were opened even when the later one converts first', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 10_000, clearBacklogMs: 0 }, log, c.now);
    const first = p.openSlot();
    const second = p.openSlot();
    second.write(audio(2, 320));
    second.end();
    await turn();
    expect(sink.sent).toHaveLength(0); // phrase 1 has not started: phrase 2 waits
    first.write(audio(1, 160));
    first.end();
    expect(sink.sent).toHaveLength(0); // writers only enqueue
    await turn();
    const kinds = sink.sent.map((s) => (s.kind === 'media' ? `m${s.bytes[0]}` : s.kind === 'mark' ? s.name : 'clear'));
    expect(kinds).toEqual(['m1', 'phrase-1', 'm2', 'm2', 'phrase-2']);
    p.close();
  });

  it('sends fixed-size chunks and pads the last one with mu-law silence', async () => {
    const sink = recorder();
    const p = new MediaOut(sink, { chunkMs: 40, leadMs: 10_000, clearBacklogMs: 0 }, log, clock().now);
    const s = p.openSlot();
    s.write(audio(7, 100));
    s.write(audio(7, 300));
    s.end();
    await turn();
    const media = sink.sent.filter((x) => x.kind === 'media') as Array<{ bytes: Uint8Array }>;
    expect(media.map((m) => m.bytes.length)).toEqual([320, 320]);
    expect(media[1]!.bytes.subarray(80).every((b) => b === 0xff)).toBe(true);
    expect(media[1]!.bytes.subarray(0, 80).every((b) => b === 7)).toBe(true);
    p.close();
  });

  it('a failed phrase plays nothing more and the queue moves on', async () => {
    const sink = recorder();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 10_000, clearBacklogMs: 0 }, log, clock().now);
    const a = p.openSlot();
    const b = p.openSlot();
    b.write(audio(9, 160));
    b.end();
    a.fail();
    a.write(audio(1, 160)); // late audio after failure is ignored
    await turn();
    expect(sink.sent.map((s) => s.kind)).toEqual(['media', 'mark']);
    expect((sink.sent[0] as { bytes: Uint8Array }).bytes[0]).toBe(9);
    p.close();
  });

  it('stays only a lead ahead of real time (deadline clock)', async () => {
    const sink = recorder();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 100, clearBacklogMs: 0 }, log);
    const s = p.openSlot();
    s.write(audio(3, 8000)); // one second
    s.end();
    await turn();
    const initial = sink.sent.length;
    expect(initial).toBeGreaterThanOrEqual(5);
    expect(initial).toBeLessThanOrEqual(6);
    await wait(300);
    const later = sink.sent.filter((x) => x.kind === 'media').length;
    expect(later).toBeGreaterThan(initial + 8);
    expect(later).toBeLessThan(initial + 25);
    p.close();
  });

  it('barge-in over a long backlog drops queued audio, aborts conversions and sends clear', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 100, clearBacklogMs: 500 }, log, c.now);
    const s = p.openSlot();
    s.write(audio(4, 8000));
    const pending = p.openSlot();
    expect(p.bargeIn()).toBe(true);
    await turn();
    expect(sink.sent.at(-1)).toEqual({ kind: 'clear' });
    expect(s.signal.aborted && pending.signal.aborted).toBe(true);
    expect(p.backlogMs()).toBe(0);
    // A short backlog is not cleared.
    const t = p.openSlot();
    t.write(audio(5, 800));
    expect(p.bargeIn()).toBe(false);
    p.close();
  });

  it('a mark echoed after a clear is for cleared audio, not played audio', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 10_000, clearBacklogMs: 100 }, log, c.now);
    const a = p.openSlot();
    a.write(audio(1, 160));
    a.end();
    const b = p.openSlot();
    b.write(audio(2, 8000));
    b.end();
    await turn();
    expect(sink.sent.filter((x) => x.kind === 'mark').map((x) => (x as { name: string }).name)).toEqual(['phrase-1', 'phrase-2']);
    expect(p.bargeIn()).toBe(true);
    await turn();
    expect(p.onMarkEchoed('phrase-1')).toBe(false);
    expect(p.onMarkEchoed('phrase-2')).toBe(false);
    const d = p.openSlot();
    d.write(audio(3, 160));
    d.end();
    await turn();
    expect(p.onMarkEchoed('phrase-3')).toBe(true);
    p.close();
  });

  it('remembers a bounded number of unechoed marks (a peer that never echoes grows nothing)', async () => {
    const sink = recorder();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 1_000_000, clearBacklogMs: 0 }, log, clock().now);
    for (let i = 0; i < 2000; i++) {
      const s = p.openSlot();
      s.write(audio(1, 160));
      s.end();
    }
    await turn();
    expect(sink.sent.filter((x) => x.kind === 'mark')).toHaveLength(2000);
    expect(p.onMarkEchoed('phrase-1')).toBe(false); // long forgotten
    expect(p.onMarkEchoed('phrase-2000')).toBe(true); // the recent ones still count as played
    p.close();
  });

  it('holds at most MAX_QUEUED_MS however fast audio is written (a peer sending faster than real time)', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, clearBacklogMs: 0, leadMs: 100 }, log, c.now);
    const live = p.openSlot('live');
    // Ten minutes of "20 ms in, 20 ms out" arriving at once, as a flood would.
    for (let i = 0; i < 30_000; i++) live.write(audio(0x11, 160));
    expect(p.backlogMs()).toBeLessThanOrEqual(MAX_QUEUED_MS + 200);
    expect(p.backlogMs()).toBeGreaterThan(MAX_QUEUED_MS - 1000);
    // Playback drains it; then there is room again.
    c.advance(10_000);
    p.wake();
    await turn();
    live.write(audio(0x22, 160));
    expect(live.items.at(-1)).toMatchObject({ kind: 'audio' });
    expect((live.items.at(-1) as { bytes: Uint8Array }).bytes[0]).toBe(0x22);
    p.close();
  });
  it('clear() ends hold audio: what is queued is dropped, Twilio is told to clear first, and the next slot plays after it', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 100, clearBacklogMs: 0 }, log, c.now);
    const hold = p.openSlot('hold');
    hold.write(audio(0x11, 8000)); // 1 s of ringback, never ended
    await turn();
    const before = sink.sent.length;
    expect(before).toBeGreaterThan(0);
    expect(sink.sent.every((x) => x.kind === 'media' && x.bytes[0] === 0x11)).toBe(true);
    p.clear();
    expect(hold.signal.aborted).toBe(true);
    const speech = p.openSlot();
    speech.write(audio(0x22, 320));
    speech.end();
    expect(sink.sent.length).toBe(before); // nothing is sent on the caller's stack
    await turn();
    const after = sink.sent.slice(before);
    expect(after[0]).toEqual({ kind: 'clear' });
    expect(after.slice(1).filter((x) => x.kind === 'media').every((x) => (x as { bytes: Uint8Array }).bytes[0] === 0x22)).toBe(true);
    expect(after.at(-1)).toEqual({ kind: 'mark', name: speech.name });
    p.close();
  });
  it('a clear drops what a live (frame-by-frame) slot queued but keeps the slot playing what comes next', async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 40, clearBacklogMs: 0 }, log, c.now);
    const live = p.openSlot('live', { live: true });
    live.write(audio(0x33, 1600));
    await turn();
    const before = sink.sent.length;
    p.clear();
    expect(live.signal.aborted).toBe(false);
    live.write(audio(0x44, 160));
    await turn();
    const after = sink.sent.slice(before);
    expect(after[0]).toEqual({ kind: 'clear' });
    expect(after.slice(1).map((x) => (x as { bytes: Uint8Array }).bytes[0])).toEqual([0x44]);
    p.close();
  });
  it("catch-up: a listener speaking over a long backlog of a person's speech makes it play faster; nothing is dropped or cleared", async () => {
    const sink = recorder();
    const c = clock();
    const p = new MediaOut(sink, { chunkMs: 20, leadMs: 100, clearBacklogMs: 1000, overBacklog: 'catch-up' }, log, c.now);
    // 6 s of a voiced tone (mu-law of a 200 Hz sine), one phrase.
    const pcm = Int16Array.from({ length: 48_000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 200 * i) / 8000)));
    const slot = p.openSlot();
    slot.write(asMasked(mulawEncode(pcm)));
    slot.end();
    await turn();
    expect(p.bargeIn()).toBe(true);
    expect(slot.signal.aborted).toBe(false);
    expect(p.bargeIn()).toBe(false); // already catching up
    // Play it out in real time.
    for (let t = 0; t < 8000 && !sink.sent.some((x) => x.kind === 'mark'); t += 20) {
      c.advance(20);
      await wait(0);
      p.wake();
      await turn();
    }
    expect(sink.sent.some((x) => x.kind === 'clear')).toBe(false);
    expect(sink.sent.at(-1)).toEqual({ kind: 'mark', name: slot.name });
    const sentMs = sink.sent.filter((x) => x.kind === 'media').length * 20;
    // Shorter than the 6 s written (compressed while catching up), but every part of it played.
    expect(sentMs).toBeLessThan(5800);
    expect(sentMs).toBeGreaterThan(6000 / 1.3 - 100);
    p.close();
  });
});
