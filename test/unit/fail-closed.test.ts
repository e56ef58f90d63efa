/**
 * The structural half of the fail-closed invariant (see src/voice/masked.ts): audio can only
 * reach playout as MaskedAudio, and only code under src/voice/ may brand bytes as masked.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('fail-closed structure', () => {
  it('only converters under src/voice/ call asMasked()', () => {
    const offenders = files(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'voice') + path.sep))
      .filter((f) => /\basMasked\s*\(/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('playout accepts MaskedAudio only', () => {
    const playout = readFileSync(path.join(SRC, 'playout/playout.ts'), 'utf8');
    expect(playout).toMatch(/write\(audio: MaskedAudio\)/);
    expect(playout).not.toMatch(/write\(audio: Uint8Array\)/);
  });

  it('nothing casts to MaskedAudio outside src/voice/', () => {
    const offenders = files(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'voice') + path.sep))
      .filter((f) => /as\s+MaskedAudio\b/.test(readFileSync(f, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the passthrough converter (unmasked by design) is used by the two-party room only', () => {
    const users = files(SRC)
      .filter((f) => !f.endsWith(path.join('voice', 'passthrough.ts')))
      .filter((f) => /passthrough\.js['"]/.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f));
    expect(users).toEqual([path.join('line', 'room.ts')]);
  });
});
