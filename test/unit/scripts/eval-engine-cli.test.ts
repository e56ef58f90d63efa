import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const SCRIPT = path.join(ROOT, 'scripts/eval-engine.ts');
const fail = (p: Promise<unknown>) => p.then(() => ({ code: 0, stdout: '', stderr: '' }), (e: { code: number; stdout: string; stderr: string }) => e);

describe('npm run eval:engine', () => {
  it('refuses a selection that matches nothing instead of passing over it', async () => {
    const voices = await fail(run(TSX, [SCRIPT, '--voices', 'no-such-voice'], { cwd: ROOT }));
    expect(voices.code).toBe(2);
    expect(voices.stderr).toMatch(/--voices matches no preset/);
    expect(voices.stdout).not.toMatch(/meet the targets/);
    const clips = await fail(run(TSX, [SCRIPT, '--clips', 'no-such-clip'], { cwd: ROOT }));
    expect(clips.code).toBe(2);
    expect(clips.stderr).toMatch(/--clips matches no clip/);
  });
});
