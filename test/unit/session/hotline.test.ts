/**
 * HotlineCall over the real PhraseStreamAdapter (real VAD on real speech) and the real MediaOut,
 * with a phrase backend written here that the test controls: each phrase's conversion waits
 * until the test releases it, then yields bytes that tell the phrases apart. The connection is
 * a sink that records what would go to Twilio. No wall-clock assertions: the test waits for
 * events, and the playout's lead is large enough that it never paces.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { FRAME_BYTES_8K, MULAW_SILENCE, mulawDecode } from '../../../src/audio/mulaw.js';
import { HotlineCall } from '../../../src/session/hotline.js';
import { CallSession } from '../../../src/session/call-session.js';
import { MediaOut, type PlayoutOptions } from '../../../src/twilio/media-out.js';
import { loadConfig } from '../../../src/config/env.js';
import { segmenterOptions } from '../../../src/compose/masking-profile.js';
import { PhraseStreamAdapter } from '../../../src/pipeline/phrase-adapter.js';
import type { MaskingProfile } from '../../../src/pipeline/profile.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { MediaStreamConnection } from '../../../src/twilio/connection.js';
import { initVad } from '../../../src/pipeline/vad/index.js';
import type { PhraseConverter, PhraseRequest } from '../../../src/voice/converter.js';
import { asMasked, type MaskedAudio } from '../../../src/voice/masked.js';
import { loadClipMulaw } from '../../../tools/clips.js';

const log = createLogger('silent');
/** Whole phrases (no micro-pause chunks), so each clip below is one phrase. */
const SEGMENTER = segmenterOptions(loadConfig({ VAD_CHUNK_MIN_MS: '0', VAD_MAX_PHRASE_MS: '10000' }));
const VOICES = ['voice-a', 'voice-b', 'voice-c'];

interface Conversion {
  req: PhraseRequest;
  /** Lets the conversion yield its audio and finish. */
  release(): void;
}

/** A phrase backend: phrase n (1-based) yields two chunks (by default 20 ms each) filled with byte n, once released. */
class GatedConverter implements PhraseConverter {
  readonly name = 'gated-test';
  readonly conversions: Conversion[] = [];
  constructor(private readonly chunkBytes = 160) {}

  convert(req: PhraseRequest): AsyncIterable<MaskedAudio> {
    const n = this.conversions.length + 1;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    this.conversions.push({ req, release });
    const bytes = this.chunkBytes;
    return (async function* () {
      await Promise.race([
        gate,
        new Promise((_, reject) => req.signal.addEventListener('abort', () => reject(req.signal.reason as Error), { once: true })),
      ]);
      yield asMasked(new Uint8Array(bytes).fill(n));
      yield asMasked(new Uint8Array(bytes).fill(n));
    })();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

type Sent = { media: number } | { mark: string } | 'clear';

/**
 * What the call sends toward Twilio: media reduced to the phrase byte it carries (0xFF: padding
 * only). It opens the real outbound clock over itself, as the real connection does.
 */
class RecordingConnection {
  readonly sent: Sent[] = [];
  closed = 0;
  output: MediaOut | undefined;
  openOutput(opts: PlayoutOptions): MediaOut {
    this.output = new MediaOut(this, opts, log);
    return this.output;
  }
  sendMedia(mulaw: Uint8Array): boolean {
    const tag = mulaw.find((b) => b !== MULAW_SILENCE) ?? MULAW_SILENCE;
    expect(mulaw.every((b) => b === tag || b === MULAW_SILENCE), 'one phrase per media message').toBe(true);
    this.sent.push({ media: tag });
    return true;
  }
  sendMark(name: string): boolean {
    this.sent.push({ mark: name });
    return true;
  }
  sendClear(): boolean {
    this.sent.push('clear');
    return true;
  }
  close(): void {
    this.closed++;
  }
}

/** Two phrases of real speech, each followed by a second of silence (past the VAD hangover). */
let speech: Int16Array;
beforeAll(async () => {
  await initVad();
  const silence = new Int16Array(8000);
  const parts = [mulawDecode(loadClipMulaw('libri6829')), silence, mulawDecode(loadClipMulaw('libri3575')), silence];
  speech = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    speech.set(p, o);
    o += p.length;
  }
});

function setup(voiceId = 'voice-b', o: { turnGapMs?: number; clearBacklogMs?: number; chunkBytes?: number } = {}) {
  const backend = new GatedConverter(o.chunkBytes);
  const conn = new RecordingConnection();
  const profile: MaskingProfile = {
    engine: 'local',
    mode: 'phrase',
    converter: new PhraseStreamAdapter(backend, SEGMENTER),
    voices: { defaultVoiceId: 'voice-a', isValid: (id) => VOICES.includes(id), describe: () => VOICES.join(', ') },
    voiceCycle: VOICES,
    segmenter: SEGMENTER,
    // A lead far beyond the test audio: the clock sends everything at once, never paces.
    playout: { chunkMs: 20, leadMs: 600_000, clearBacklogMs: o.clearBacklogMs ?? 0 },
    passthroughPlayout: { chunkMs: 20, leadMs: 600_000, clearBacklogMs: 0 },
    hotlineTurnGapMs: o.turnGapMs ?? 0,
  };
  const session = new CallSession('CA1', 'hotline', log);
  const call = new HotlineCall(conn as unknown as MediaStreamConnection, voiceId, { profile, session });
  return { call, backend, conn };
}

/** Pushes `pcm` as 20 ms frames, as the connection would. */
function speak(call: HotlineCall, pcm: Int16Array): void {
  const samples = FRAME_BYTES_8K;
  for (let o = 0; o + samples <= pcm.length; o += samples) call.onMedia({ pcm: pcm.subarray(o, o + samples) });
}

/** Resolves when `cond` holds, re-checked on every turn of the event loop (no fixed sleeps). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 10_000) throw new Error('condition never held');
    await new Promise((r) => setImmediate(r));
  }
}

/** Lets several turns of the event loop pass (to show that nothing more happens). */
async function turns(n = 50): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe('HotlineCall', () => {
  it('plays each phrase back in speaking order, each followed by its mark, even when a later one converts first', async () => {
    const { call, backend, conn } = setup();
    speak(call, speech);
    expect(backend.conversions).toHaveLength(2);
    expect(backend.conversions.map((c) => c.req.voiceId)).toEqual(['voice-b', 'voice-b']);
    expect(backend.conversions.map((c) => c.req.callKey)).toEqual(['CA1', 'CA1']);

    backend.conversions[1]!.release(); // the second phrase is ready first ...
    await turns();
    expect(conn.sent).toEqual([]); // ... but waits behind the first
    backend.conversions[0]!.release();
    await until(() => conn.sent.length === 6);
    expect(conn.sent).toEqual([{ media: 1 }, { media: 1 }, { mark: 'phrase-1' }, { media: 2 }, { media: 2 }, { mark: 'phrase-2' }]);
    expect(conn.output!.onMarkEchoed('phrase-1')).toBe(true); // Twilio's echo: played
    call.close();
    expect(conn.closed).toBe(1);
  });

  it('close() cancels the conversions in flight, closes the connection once, and nothing plays afterwards', async () => {
    const { call, backend, conn } = setup();
    speak(call, speech);
    const signals = backend.conversions.map((c) => c.req.signal);
    expect(signals).toHaveLength(2);
    expect(signals.some((s) => s.aborted)).toBe(false);

    call.close();
    expect(signals.every((s) => s.aborted)).toBe(true);
    expect(conn.closed).toBe(1);
    for (const c of backend.conversions) c.release();
    speak(call, speech); // frames after the hang-up go nowhere
    await turns();
    expect(backend.conversions).toHaveLength(2);
    expect(conn.sent).toEqual([]);
    call.close(); // idempotent
    expect(conn.closed).toBe(1);
  });

  it("'*' moves to the next voice (wrapping), '#' returns to the call's own, other keys change nothing", async () => {
    const { call, backend } = setup('voice-b');
    const voices: string[] = [];
    const phraseWith = (digit: string) => {
      call.onDtmf(digit);
      voices.push(call.direction.voiceId);
    };
    phraseWith('*');
    phraseWith('*');
    phraseWith('5');
    phraseWith('*');
    phraseWith('#');
    expect(voices).toEqual(['voice-c', 'voice-a', 'voice-a', 'voice-b', 'voice-b']);

    // The voice chosen by a key is the one the next phrase is converted with.
    call.onDtmf('*');
    speak(call, speech);
    expect(backend.conversions.map((c) => c.req.voiceId)).toEqual(['voice-c', 'voice-c']);
    call.close();
  });

  it('a new turn (after hotlineTurnGapMs of silence) clears a long backlog; a shorter pause continues the turn', async () => {
    // The first clip and its second of silence, then the second clip: the onset after a gap of about 1 s.
    const firstEnd = mulawDecode(loadClipMulaw('libri6829')).length + 8000;
    const run = async (turnGapMs: number) => {
      // 20 s of masked audio for the first phrase: a backlog far past clearBacklogMs however slow the machine.
      const { call, backend, conn } = setup('voice-a', { turnGapMs, clearBacklogMs: 1000, chunkBytes: 80_000 });
      speak(call, speech.subarray(0, firstEnd));
      expect(backend.conversions).toHaveLength(1);
      backend.conversions[0]!.release();
      await until(() => conn.sent.some((s) => typeof s === 'object' && 'mark' in s));
      speak(call, speech.subarray(firstEnd));
      await turns();
      call.close();
      return { sent: conn.sent, conversions: backend.conversions.length };
    };
    const newTurn = await run(500);
    expect(newTurn.sent).toContain('clear');
    expect(newTurn.conversions).toBe(2);
    const sameTurn = await run(5000);
    expect(sameTurn.sent).not.toContain('clear');
  });
});
