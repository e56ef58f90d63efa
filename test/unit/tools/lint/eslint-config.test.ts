/**
 * The fail-closed invariant (src/voice/masked.ts) is enforced by lint rules
 * (tools/lint/eslint.config.js), run by `npm test` over the repository. This test lints
 * in-memory sources with the ESLint Node API to show the rules catch each way around them,
 * outside src/voice/, and let the same code through inside it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { PlayoutSlot } from '../../../../src/twilio/media-out.js';
import * as masked from '../../../../src/voice/masked.js';
import { BRAND_FUNCTIONS } from '../../../../tools/lint/eslint.config.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
let eslint: ESLint;
let typed: ESLint;
beforeAll(() => {
  // The import and syntax rules need no types: samples are linted at made-up paths, outside the
  // TypeScript project, so the type-checked rules are off for them (their own test is below).
  eslint = new ESLint({
    cwd: ROOT,
    overrideConfigFile: path.join(ROOT, 'eslint.config.js'),
    cache: false,
    overrideConfig: [
      {
        files: ['**/*.ts'],
        languageOptions: { parserOptions: { projectService: false } },
        rules: { '@typescript-eslint/no-floating-promises': 'off', '@typescript-eslint/no-misused-promises': 'off', '@typescript-eslint/no-unused-vars': 'off' },
      },
    ],
  });
  typed = new ESLint({ cwd: ROOT, overrideConfigFile: path.join(ROOT, 'eslint.config.js'), cache: false });
});

/** The rule ids reported for `code` as if it were the file `file` (relative to the repo root). */
async function lint(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  expect(r!.messages.filter((m) => m.fatal), `parse error in the sample for ${file}`).toEqual([]);
  return r!.messages.map((m) => m.ruleId ?? 'fatal');
}

const ALIASED = `import { asMasked as brand } from '../voice/masked.js';\nexport const leak = (b: Uint8Array) => brand(b);\n`;

describe('fail closed: only src/voice/ may brand audio', () => {
  it('refuses an aliased import of the brand outside src/voice/, and lets the same import through inside it', async () => {
    expect(await lint('src/session/leak.ts', ALIASED)).toContain('no-restricted-imports');
    expect(await lint('src/voice/elevenlabs/client.ts', ALIASED.replace('../voice/masked.js', '../masked.js'))).toEqual([]);
    expect(await lint('src/voice/hold-music.ts', ALIASED.replace('../voice/masked.js', './masked.js'))).toEqual([]);
    // src/voice/ itself is not trusted as a whole: a new file there is held to the rules too.
    expect(await lint('src/voice/ok.ts', ALIASED.replace('../voice/masked.js', './masked.js'))).toContain('no-restricted-imports');
    expect(await lint('src/voice/resilience/ok.ts', ALIASED.replace('../voice/masked.js', '../masked.js'))).toContain('no-restricted-imports');
  });

  it('refuses every other way to reach the brand outside src/voice/', async () => {
    const samples: Record<string, string> = {
      'plain import': `import { asMasked } from '../voice/masked.js';\n`,
      'through a voice index': `import { asMasked as b } from '../voice/index.js';\n`,
      'from src deep path': `import { asMasked } from '../../../../src/voice/masked.js';\n`,
      'namespace import': `import * as m from '../voice/masked.js';\nexport const x = m;\n`,
      'namespace member': `import * as m from '../voice/index.js';\nexport const f = m['asMasked'];\n`,
      're-export under another name': `export { asMasked as brand } from '../voice/masked.js';\n`,
      're-export all': `export * from '../voice/masked.js';\n`,
      'dynamic import': `export const f = async () => (await import('../voice/masked.js')).asMasked;\n`,
      'destructured dynamic import': `export const f = async () => { const { asMasked: b } = await import('../voice/masked.js'); return b; };\n`,
      'cast to MaskedAudio': `import type { MaskedAudio } from '../voice/masked.js';\nexport const f = (b: Uint8Array) => b as MaskedAudio;\n`,
      'double cast': `import type { MaskedAudio } from '../voice/masked.js';\nexport const f = (b: Uint8Array) => b as unknown as MaskedAudio;\n`,
      'angle-bracket cast': `import type { MaskedAudio } from '../voice/masked.js';\nexport const f = (b: Uint8Array) => <MaskedAudio>b;\n`,
      'type guard': `import type { MaskedAudio } from '../voice/masked.js';\nexport const f = (b: Uint8Array): b is MaskedAudio => true;\n`,
      'aliased type': `import type { MaskedAudio as Safe } from '../voice/masked.js';\nexport const f = (b: Uint8Array) => b as Safe;\n`,
    };
    for (const [what, code] of Object.entries(samples)) {
      const ids = await lint('src/twilio/leak.ts', code.replace(/\.\.\/\.\.\/src\/voice/, '../voice'));
      expect(ids.length, `${what} should be refused`).toBeGreaterThan(0);
      expect(ids.every((id) => id === 'no-restricted-imports' || id === 'no-restricted-syntax'), what).toBe(true);
    }
    // Tools and scripts are held to the same rule.
    expect(await lint('tools/sim/leak.ts', `import { asMasked as b } from '../../../../src/voice/masked.js';\n`)).toContain('no-restricted-imports');
    expect(await lint('scripts/leak.ts', `import * as v from '../src/voice/masked.js';\nexport { v };\n`)).toContain('no-restricted-syntax');
  });

  it('allows what playout needs: the MaskedAudio type under its own name', async () => {
    expect(await lint('src/twilio/ok.ts', `import type { MaskedAudio } from '../voice/masked.js';\nexport const f = (a: MaskedAudio) => a.length;\n`)).toEqual([]);
  });

  it('keeps the passthrough converter to the two-party line code', async () => {
    const code = `import { passthroughConverter } from '../voice/passthrough.js';\nexport { passthroughConverter };\n`;
    expect(await lint('src/session/leak.ts', code)).toContain('no-restricted-imports');
    expect(await lint('src/session/line/room.ts', code)).toEqual([]);
  });

  it('names brand functions that src/voice/masked.ts really exports (a rename must update the rule)', () => {
    for (const name of BRAND_FUNCTIONS) expect(typeof (masked as Record<string, unknown>)[name], name).toBe('function');
  });

  it('types: playout takes MaskedAudio, which plain bytes are not', () => {
    expectTypeOf<Uint8Array>().not.toExtend<Parameters<PlayoutSlot['write']>[0]>();
    expectTypeOf<masked.MaskedAudio>().toExtend<Parameters<PlayoutSlot['write']>[0]>();
  });
});

describe('tools use the product from outside or through its public modules', () => {
  it('refuses a tool importing a product internal, allows src/index.ts and src/audio/index.ts', async () => {
    expect(await lint('tools/demo/x.ts', `import { startServer } from '../../../../src/compose.js';\nexport { startServer };\n`)).toContain('no-restricted-imports');
    expect(await lint('tools/sim/x.ts', `import { mulawDecode } from '../../../../src/audio/mulaw.js';\nexport { mulawDecode };\n`)).toContain('no-restricted-imports');
    expect(await lint('tools/demo/x.ts', `import { startServer } from '../../../../src/index.js';\nimport { mulawDecode } from '../../../../src/audio/index.js';\nexport { startServer, mulawDecode };\n`)).toEqual([]);
  });
});

describe('test doubles import nothing from src/', () => {
  it('refuses a src/ import in tools/fakes/, allows it in a test', async () => {
    const code = `import { mulawEncode } from '../../../../src/audio/mulaw.js';\nexport { mulawEncode };\n`;
    expect(await lint('tools/fakes/fake-x.ts', code)).toContain('no-restricted-imports');
    expect(await lint('test/unit/x.test.ts', code.replace('../../src', '../../../src'))).toEqual([]);
  });
});

describe('type-checked rules', () => {
  it('refuses a promise nobody awaits, a promise used as a condition, and unused code', async () => {
    // Linted as the text of a real project file, so the project's types are known.
    const code = [
      'export async function work(): Promise<boolean> {',
      '  return true;',
      '}',
      'export function caller(): void {',
      '  work();',
      '  if (work()) return;',
      '  const unused = 1;',
      '}',
      '',
    ].join('\n');
    const [r] = await typed.lintText(code, { filePath: path.join(ROOT, 'src/session/voice-keys.ts') });
    expect(r!.messages.filter((m) => m.fatal)).toEqual([]);
    expect(r!.messages.map((m) => m.ruleId).sort()).toEqual(['@typescript-eslint/no-floating-promises', '@typescript-eslint/no-misused-promises', '@typescript-eslint/no-unused-vars']);
  }, 120_000);
});
