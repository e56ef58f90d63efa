/**
 * Personas: with `persona: stable` an agent masks alike on every call (a seed from the secret
 * and the agent's id, no per-phrase draw), in streaming and in phrase mode; with `per-call`
 * each call is its own voice. Real engine, real pipeline adapters, real speech.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../../../../src/audio/mulaw.js';
import { createLogger } from '../../../../src/observability/logger.js';
import type { Converter } from '../../../../src/pipeline/contracts.js';
import { frameConverter } from '../../../../src/pipeline/frame-adapter.js';
import { PhraseStreamAdapter } from '../../../../src/pipeline/phrase-adapter.js';
import { initVad } from '../../../../src/pipeline/vad/index.js';
import { personaSeed } from '../../../../src/session/line/room.js';
import { initLocalEngine, LocalEngine } from '../../../../src/voice/local/index.js';
import { loadConfig } from '../../../../src/config/env.js';
import { segmenterOptions } from '../../../../src/compose/masking-profile.js';
import { loadClipMulaw } from '../../../../tools/clips.js';

const log = createLogger('silent');
let speech: Int16Array;
beforeAll(async () => {
  await Promise.all([initLocalEngine(), initVad()]);
  speech = mulawDecode(loadClipMulaw('libri8230'));
});

/** One call of the agent: the speech through a fresh stream; everything written, in order. */
async function call(converter: Converter, callKey: string, persona?: number): Promise<Buffer> {
  const written: Uint8Array[] = [];
  let ended = 0;
  let opened = 0;
  const ctl = new AbortController();
  const s = converter.open({
    voiceId: 'bright-female',
    callKey,
    signal: ctl.signal,
    log,
    output: {
      openSlot: () => {
        opened++;
        return { name: 's', signal: ctl.signal, write: (a) => void written.push(a.slice()), end: () => void ended++, fail: () => void ended++ };
      },
    },
    ...(persona !== undefined && { persona: { seed: persona } }),
  });
  for (let o = 0; o + 160 <= speech.length; o += 160) s.push({ pcm: speech.subarray(o, o + 160) });
  // Silence after the speech: the phrase mode's last phrase ends and converts.
  for (let i = 0; i < 100; i++) s.push({ pcm: new Int16Array(160) });
  const deadline = Date.now() + 20_000;
  while (converter.segmentsSpeech && ended < opened && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  ctl.abort();
  return Buffer.concat(written);
}

describe('personas', () => {
  const secret = 'x'.repeat(32);

  it('a seed per agent from the secret: the same agent always gets the same one, agents and secrets differ', () => {
    expect(personaSeed(secret, 'alice')).toBe(personaSeed(secret, 'alice'));
    expect(personaSeed(secret, 'alice')).not.toBe(personaSeed(secret, 'bob'));
    expect(personaSeed(secret, 'alice')).not.toBe(personaSeed('y'.repeat(32), 'alice'));
  });

  for (const mode of ['streaming', 'phrase'] as const) {
    it(`${mode}: stable masks two calls of one agent alike; per-call masks them differently`, async () => {
      const engine = new LocalEngine({ defaultVoiceId: 'neutral-male', phraseVariation: 1 });
      const converter: Converter =
        mode === 'streaming'
          ? frameConverter('local', (o) => engine.openStream(o))
          : new PhraseStreamAdapter(engine, segmenterOptions(loadConfig({})));
      const seed = personaSeed(secret, 'alice');
      const [a, b] = [await call(converter, 'CA-first', seed), await call(converter, 'CA-second', seed)];
      expect(a.length).toBeGreaterThan(8000);
      expect(a.equals(b)).toBe(true);
      const [c, d] = [await call(converter, 'CA-third'), await call(converter, 'CA-fourth')];
      expect(c.equals(d)).toBe(false);
    });
  }
});
