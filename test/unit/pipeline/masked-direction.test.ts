/**
 * MaskedDirection: a speaker's frames in, masked audio out into the listener's connection clock,
 * with one close(). Driven with real speech through the real converters' shapes: the
 * PhraseStreamAdapter over a scripted phrase backend (it segments speech) and the frame adapter
 * over a frame stream written here (it does not). A real MediaOut sends to a recording sink.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/env.js';
import { segmenterOptions } from '../../../src/compose/masking-profile.js';
import { createLogger } from '../../../src/observability/logger.js';
import { frameConverter } from '../../../src/pipeline/frame-adapter.js';
import { MaskedDirection } from '../../../src/pipeline/masked-direction.js';
import { PhraseStreamAdapter } from '../../../src/pipeline/phrase-adapter.js';
import { initVad } from '../../../src/pipeline/vad/index.js';
import type { Converter, SpeechStart } from '../../../src/pipeline/contracts.js';
import { MediaOut } from '../../../src/twilio/media-out.js';
import type { FrameStream } from '../../../src/voice/converter.js';
import { asMasked } from '../../../src/voice/masked.js';
import { FakePhraseConverter, fakeTag, type FakePhraseConverterOptions } from '../../helpers/fake-phrase-converter.js';
import { framesOf, RecordingSink, speechOf, turns, until } from '../../helpers/pipeline.js';

const log = createLogger('silent');
const SEGMENTER = segmenterOptions(loadConfig({ VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '10000' }));
const LIVE = 0x44;

let twoPhrases: Int16Array;
beforeAll(async () => {
  await initVad();
  twoPhrases = speechOf(['libri6829', 'libri3575']);
});

/** A frame backend: every 20 ms frame comes out at once as 20 ms of LIVE; what it saw is kept. */
function liveFrames() {
  const state = { pushed: 0, closed: 0, voices: [] as string[] };
  const converter = frameConverter('live-test', ({ voiceId }) => {
    state.voices.push(voiceId);
    const stream: FrameStream = {
      push: (pcm) => {
        state.pushed++;
        return asMasked(new Uint8Array(pcm.length).fill(LIVE));
      },
      flush: () => asMasked(new Uint8Array(0)),
      setVoice: (id) => void state.voices.push(id),
      close: () => void state.closed++,
    };
    return stream;
  });
  return { converter, state };
}

function direction(converter: Converter, o: { onsets?: SpeechStart[]; leadMs?: number; signal?: AbortSignal } = {}) {
  const sink = new RecordingSink();
  // By default a lead far beyond the test audio: the clock sends everything at once.
  const output = new MediaOut(sink, { chunkMs: 20, leadMs: o.leadMs ?? 600_000, clearBacklogMs: 0 }, log);
  const dir = new MaskedDirection({
    converter,
    output,
    voiceId: 'voice-a',
    callKey: 'CA1',
    signal: o.signal ?? new AbortController().signal,
    log,
    segmenter: SEGMENTER,
    ...(o.onsets && { onSpeechStart: (ev: SpeechStart) => o.onsets!.push(ev) }),
  });
  const speak = (pcm: Int16Array) => {
    for (const f of framesOf(pcm)) dir.push(f);
  };
  return { dir, sink, speak, output };
}

function phraseDirection(o: FakePhraseConverterOptions & { onsets?: SpeechStart[]; leadMs?: number; signal?: AbortSignal } = {}) {
  const backend = new FakePhraseConverter(o);
  return { backend, ...direction(new PhraseStreamAdapter(backend, SEGMENTER), o) };
}

describe('MaskedDirection', () => {
  it('phrase mode: frames in, each phrase\'s masked audio out through the playout, in order, each with its mark', async () => {
    const { backend, sink, speak, dir, output } = phraseDirection({ script: [{ delayMs: 40 }] });
    speak(twoPhrases);
    expect(backend.calls.map((c) => c.request.callKey)).toEqual(['CA1', 'CA1']);
    await until(() => sink.marks.length === 2, 'both phrases played');
    expect(sink.summary()).toEqual([fakeTag(0), 'phrase-1', fakeTag(1), 'phrase-2']);
    // Twilio echoing a mark means the audio before it was played; an unknown mark means nothing.
    expect(output.onMarkEchoed('phrase-1')).toBe(true);
    expect(output.onMarkEchoed('phrase-9')).toBe(false);
    dir.close();
  });

  it('streaming mode: every frame comes out at once, in one live slot', async () => {
    const { converter, state } = liveFrames();
    const { sink, speak, dir } = direction(converter);
    speak(twoPhrases.subarray(0, 8000)); // one second
    expect(state.pushed).toBe(50);
    await until(() => sink.sent.length === 50, '50 media messages');
    expect(sink.sent.every((s) => s.kind === 'media' && s.bytes.length === 160 && s.bytes.every((b) => b === LIVE))).toBe(true);
    dir.close();
  });

  it('setVoice() reaches the converter stream: the next phrase uses the new voice', () => {
    const { backend, speak, dir } = phraseDirection({ default: { hold: true } });
    speak(twoPhrases.subarray(0, 6110 * 8));
    dir.setVoice('voice-b');
    expect(dir.voiceId).toBe('voice-b');
    speak(twoPhrases.subarray(6110 * 8));
    expect(backend.calls.map((c) => c.request.voiceId)).toEqual(['voice-a', 'voice-b']);
    dir.close();
  });

  it('close() cancels the conversions in flight; later frames are ignored; idempotent', async () => {
    const { backend, sink, speak, dir } = phraseDirection({ script: [{ bytes: 20 * 8000 }], default: { hold: true } });
    speak(twoPhrases);
    await until(() => sink.marks.length === 1, 'the first phrase sent');
    const before = sink.sent.length;
    dir.close();
    expect(backend.calls[1]!.request.signal.aborted).toBe(true);
    backend.release(1);
    expect((await backend.whenSettled(1)).outcome).toBe('aborted');
    speak(twoPhrases);
    await turns();
    expect(backend.calls).toHaveLength(2);
    expect(sink.sent).toHaveLength(before);
    dir.close();
  });

  it('the call ending (its signal) drops the audio still queued: nothing more reaches the listener', async () => {
    // Played in real time, 100 ms ahead: 20 s of answer is mostly still queued when the call ends.
    const call = new AbortController();
    const { sink, speak, output } = phraseDirection({ script: [{ bytes: 20 * 8000 }], leadMs: 100, signal: call.signal });
    speak(twoPhrases.subarray(0, 6000 * 8));
    await until(() => sink.sent.length > 0, 'the answer starts');
    call.abort();
    output.close(); // the connection closes with the call
    const sent = sink.sent.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.sent).toHaveLength(sent);
    expect(sent).toBeLessThan(50);
  });

  it('close() closes a frame stream too, and nothing more goes out', async () => {
    const { converter, state } = liveFrames();
    const { sink, speak, dir } = direction(converter);
    speak(twoPhrases.subarray(0, 1600));
    await until(() => sink.sent.length === 10, 'ten frames out');
    dir.close();
    dir.close();
    expect(state.closed).toBe(1);
    speak(twoPhrases.subarray(1600, 3200));
    await turns();
    expect(state.pushed).toBe(10);
    expect(sink.sent).toHaveLength(10);
  });

  it('onSpeechStart comes from the converter when it segments speech: once per onset, before the phrase is converted', () => {
    const onsets: SpeechStart[] = [];
    const { backend, speak, dir } = phraseDirection({ onsets, default: { hold: true } });
    const seen: number[] = [];
    speak(twoPhrases.subarray(0, 1000 * 8));
    seen.push(onsets.length, backend.calls.length);
    speak(twoPhrases.subarray(1000 * 8));
    expect(seen).toEqual([1, 0]); // the onset is reported while the phrase is still open
    expect(onsets).toHaveLength(2); // not doubled by a VAD of the direction's own
    expect(onsets[0]!.gapMs).toBe(Number.POSITIVE_INFINITY);
    expect(onsets[1]!.gapMs).toBeGreaterThan(500);
    dir.close();
  });

  it("onSpeechStart comes from the direction's own VAD when the converter does not segment speech", () => {
    const onsets: SpeechStart[] = [];
    const { converter } = liveFrames();
    const { speak, dir } = direction(converter, { onsets });
    speak(twoPhrases);
    expect(onsets).toHaveLength(2);
    expect(onsets[0]!.gapMs).toBe(Number.POSITIVE_INFINITY);
    expect(onsets[1]!.gapMs).toBeGreaterThan(500);
    expect(onsets[1]!.gapMs).toBeLessThan(2500);
    expect(onsets[1]!.atMs).toBeGreaterThan(onsets[0]!.atMs + 4000);
    dir.close();
  });

  it('no VAD of its own when nobody asked for onsets', () => {
    const { converter, state } = liveFrames();
    const { speak, dir } = direction(converter);
    speak(twoPhrases);
    expect(state.pushed).toBe(Math.floor(twoPhrases.length / 160));
    dir.close();
  });
});
