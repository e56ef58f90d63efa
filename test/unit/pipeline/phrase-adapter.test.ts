/**
 * PhraseStreamAdapter on its own: real VAD on real speech, a scripted phrase backend
 * (test/helpers/fake-phrase-converter.ts) and a real MediaOut whose sink records what would go
 * to Twilio. The playout's lead is far beyond the test audio, so the clock sends everything at
 * once and never paces; the tests wait on events, not on time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/env.js';
import { segmenterOptions } from '../../../src/compose/masking-profile.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { ConverterStream, SpeechStart } from '../../../src/pipeline/contracts.js';
import { PhraseStreamAdapter } from '../../../src/pipeline/phrase-adapter.js';
import { initVad, type SegmenterOptions } from '../../../src/pipeline/vad/index.js';
import { MediaOut } from '../../../src/twilio/media-out.js';
import { ConversionError } from '../../../src/voice/errors.js';
import { FakePhraseConverter, fakeTag, type FakePhraseConverterOptions } from '../../helpers/fake-phrase-converter.js';
import { framesOf, RecordingSink, speechOf, turns, until } from '../../helpers/pipeline.js';

const log = createLogger('silent');
/** Whole phrases (no micro-pause chunks): each clip of speechOf() is one phrase. */
const WHOLE = segmenterOptions(loadConfig({ VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '10000' }));
/** The shipped settings: long turns cut into chunks of at most VAD_MAX_PHRASE_MS. */
const SHIPPED = segmenterOptions(loadConfig({}));

let threePhrases: Int16Array;
beforeAll(async () => {
  await initVad();
  threePhrases = speechOf(['libri6829', 'libri3575', 'p240']);
});

function setup(o: FakePhraseConverterOptions & { segmenter?: SegmenterOptions; clearBacklogMs?: number } = {}) {
  const backend = new FakePhraseConverter(o);
  const sink = new RecordingSink();
  const playout = new MediaOut(sink, { chunkMs: 20, leadMs: 600_000, clearBacklogMs: o.clearBacklogMs ?? 0 }, log);
  const ctl = new AbortController();
  const onsets: Array<SpeechStart & { callsSoFar: number }> = [];
  const adapter = new PhraseStreamAdapter(backend, o.segmenter ?? WHOLE);
  const stream: ConverterStream = adapter.open({
    voiceId: 'voice-a',
    callKey: 'CA1',
    output: playout,
    signal: ctl.signal,
    log,
    onSpeechStart: (ev) => onsets.push({ ...ev, callsSoFar: backend.calls.length }),
  });
  const speak = (pcm: Int16Array) => {
    for (const f of framesOf(pcm)) stream.push(f);
  };
  /** The end of input: a second of silence closes the open phrase (past the VAD hangover). */
  const pause = () => speak(new Int16Array(8000));
  return { adapter, backend, sink, playout, ctl, onsets, stream, speak, pause };
}

describe('PhraseStreamAdapter', () => {
  it('converts each phrase with the call\'s voice and key, and plays them in speaking order even when a later one converts first', async () => {
    const { backend, sink, speak, playout } = setup({ script: [{ delayMs: 80 }, {}, { delayMs: 30 }] });
    speak(threePhrases);
    expect(backend.calls).toHaveLength(3);
    for (const c of backend.calls) {
      expect(c.request).toMatchObject({ sampleRate: 8000, voiceId: 'voice-a', callKey: 'CA1' });
      expect(c.request.pcm.length / 8).toBeGreaterThan(3000); // each clip is one phrase of about 4.5 s
      expect(c.request.pcm.length / 8).toBeLessThan(6000);
    }
    await backend.whenSettled(1);
    expect(backend.calls[0]!.outcome).toBeUndefined(); // the second phrase is converted first ...
    await until(() => sink.marks.length === 3, 'three marks');
    // ... and played second, each phrase's audio whole, then its mark.
    expect(sink.summary()).toEqual([fakeTag(0), 'phrase-1', fakeTag(1), 'phrase-2', fakeTag(2), 'phrase-3']);
    for (const c of backend.calls) expect(sink.bytesOf(fakeTag(c.index))).toBe(c.bytesYielded);
    expect(backend.calls.map((c) => c.outcome)).toEqual(['converted', 'converted', 'converted']);
    playout.close();
  });

  it('sends each chunk of a long turn as it closes, each into its own slot: chunked answers play whole and in order', async () => {
    // Later chunks answer faster than earlier ones, in three pieces each.
    const { backend, sink, speak, pause, playout } = setup({ segmenter: SHIPPED, script: [{ delayMs: 60, chunks: 3 }, { delayMs: 30, chunks: 3 }], default: { chunks: 3, chunkDelayMs: 2 } });
    const turn = speechOf(['ljspeech']).subarray(0, 13 * 8000); // three phrases, the longest 4.5 s
    speak(turn.subarray(0, 5 * 8000));
    expect(backend.calls.length).toBeGreaterThanOrEqual(1); // the first chunk went out while the turn goes on
    speak(turn.subarray(5 * 8000));
    pause();
    const n = backend.calls.length;
    expect(n).toBeGreaterThanOrEqual(5);
    for (const c of backend.calls) expect(c.request.pcm.length / 8).toBeLessThanOrEqual(SHIPPED.maxPhraseMs + 20);
    await until(() => sink.marks.length === n, 'a mark per chunk');
    expect(sink.summary()).toEqual(backend.calls.flatMap((c) => [fakeTag(c.index), `phrase-${c.index + 1}`]));
    for (const c of backend.calls) {
      expect(c.chunksYielded).toBe(3);
      expect(sink.bytesOf(fakeTag(c.index))).toBe(c.bytesYielded);
    }
    playout.close();
  });

  it.each([
    ['before any audio', 0, 0],
    ['after part of its audio (which plays)', 1, 1],
  ])('a failed phrase fails its slot %s: no mark for it, and the phrases after it still play', async (_, failAfterChunks, partsHeard) => {
    const fail = ConversionError.fromStatus(422, 'fake 422');
    const { backend, sink, speak, playout } = setup({ script: [{}, { chunks: 2, fail, failAfterChunks, delayMs: 20 }, {}] });
    speak(threePhrases);
    await until(() => sink.marks.length === 2, 'two marks');
    const second = await backend.whenSettled(1);
    expect(second.outcome).toBe('failed');
    expect(second.error).toBe(fail);
    expect(sink.summary()).toEqual([fakeTag(0), 'phrase-1', ...(partsHeard ? [fakeTag(1)] : []), fakeTag(2), 'phrase-3']);
    expect(sink.bytesOf(fakeTag(1))).toBe(second.bytesYielded);
    expect(backend.calls.map((c) => c.outcome)).toEqual(['converted', 'failed', 'converted']);
    playout.close();
  });

  it('its signal (the call ended, the direction closed) cancels every conversion in flight; nothing is written afterwards and later frames are ignored', async () => {
    const { backend, sink, speak, pause, ctl } = setup({ default: { hold: true } });
    speak(threePhrases);
    expect(backend.calls).toHaveLength(3);
    expect(backend.calls.some((c) => c.request.signal.aborted)).toBe(false);
    ctl.abort(new Error('hang-up'));
    expect(backend.calls.every((c) => c.request.signal.aborted)).toBe(true);
    for (const c of backend.calls) {
      backend.release(c.index);
      expect((await backend.whenSettled(c.index)).outcome).toBe('aborted');
    }
    speak(threePhrases);
    pause();
    await turns();
    expect(backend.calls).toHaveLength(3);
    expect(sink.sent).toEqual([]);
    expect(backend.calls.map((c) => c.outcome)).toEqual(['aborted', 'aborted', 'aborted']); // cancelled is not failed
    ctl.abort(); // idempotent
  });

  it('a cleared slot (the listener barged in) cancels its conversion; the stream goes on with the next phrase', async () => {
    // The first answer is 20 s long: a backlog far past the 1 s threshold. The second is held.
    const { backend, sink, speak, playout } = setup({ clearBacklogMs: 1000, script: [{ bytes: 20 * 8000 }, { hold: true }] });
    const two = speechOf(['libri6829', 'libri3575']);
    speak(two);
    await until(() => sink.marks.length === 1, 'the first answer sent');
    expect(playout.bargeIn()).toBe(true);
    expect(backend.calls[1]!.request.signal.aborted).toBe(true);
    expect((await backend.whenSettled(1)).outcome).toBe('aborted');
    speak(speechOf(['p240']));
    await until(() => sink.marks.length === 2, 'the next phrase played');
    expect(sink.summary()).toEqual([fakeTag(0), 'phrase-1', 'clear', fakeTag(2), 'phrase-3']);
    expect(backend.calls[2]!.request.signal.aborted).toBe(false);
    playout.close();
  });

  it('reports each speech onset, before its phrase is converted, with the silence since the last phrase', async () => {
    const { backend, onsets, speak, playout } = setup();
    speak(threePhrases);
    expect(onsets).toHaveLength(3);
    expect(onsets.map((o) => o.callsSoFar)).toEqual([0, 1, 2]);
    expect(onsets[0]!.gapMs).toBe(Number.POSITIVE_INFINITY);
    for (const o of onsets.slice(1)) {
      expect(o.gapMs).toBeGreaterThan(500); // the second of silence between the clips (less the phrase's tail)
      expect(o.gapMs).toBeLessThan(2500);
    }
    expect(onsets.map((o) => o.atMs)).toEqual([...onsets.map((o) => o.atMs)].sort((a, b) => a - b));
    expect(backend.calls).toHaveLength(3);
    playout.close();
  });

  it('a pause ends the open phrase; setVoice() applies to the phrases after it', async () => {
    const { backend, sink, speak, pause, stream, playout } = setup();
    const noTrailingSilence = speechOf(['libri6829', 'libri3575']).subarray(0, (5110 + 1000 + 4000) * 8);
    speak(noTrailingSilence.subarray(0, 6110 * 8));
    stream.setVoice('voice-b');
    expect(stream.voiceId).toBe('voice-b');
    speak(noTrailingSilence.subarray(6110 * 8));
    expect(backend.calls).toHaveLength(1); // the second phrase is still open
    pause();
    expect(backend.calls.map((c) => c.request.voiceId)).toEqual(['voice-a', 'voice-b']);
    await until(() => sink.marks.length === 2, 'both phrases played');
    playout.close();
  });
});
