import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const SCRIPT = path.join(ROOT, 'scripts/eval-privacy.ts');
const fail = (p: Promise<unknown>) => p.then(() => ({ code: 0, stdout: '', stderr: '' }), (e: { code: number; stdout: string; stderr: string }) => e);

describe('npm run eval:privacy', () => {
  it('refuses a bad selection with a clear message before any work', async () => {
    const voices = await fail(run(TSX, [SCRIPT, '--voices', 'nobody'], { cwd: ROOT }));
    expect(voices.code).toBe(2);
    expect(voices.stderr).toMatch(/unknown voice "nobody"; presets: deep-male/);
    const clips = await fail(run(TSX, [SCRIPT, '--clips', 'jfk,p240'], { cwd: ROOT }));
    expect(clips.code).toBe(2);
    expect(clips.stderr).toMatch(/at least 3 clips/);
    const k = await fail(run(TSX, [SCRIPT, '--components', '48'], { cwd: ROOT }));
    expect(k.stderr).toMatch(/power of two/);
    const seeds = await fail(run(TSX, [SCRIPT, '--seeds', '5,5'], { cwd: ROOT }));
    expect(seeds.code).toBe(2);
    expect(seeds.stderr).toMatch(/--seeds needs two different integers/);
    const where = await fail(run(TSX, [SCRIPT, '--path', 'phone'], { cwd: ROOT }));
    expect(where.code).toBe(2);
    expect(where.stderr).toMatch(/unknown path "phone"; paths: engine, call, api/);
    const apiModes = await fail(run(TSX, [SCRIPT, '--path', 'api', '--modes', 'phrase'], { cwd: ROOT }));
    expect(apiModes.code).toBe(2);
    expect(apiModes.stderr).toMatch(/--path api has one/);
  });

  it('refuses the call path\'s and the personas\' bad combinations before any work', async () => {
    const refused = (argv: string[]) => fail(run(TSX, [SCRIPT, ...argv], { cwd: ROOT }));
    const [callModes, who, stableApi, stablePhrase, engineOpt] = await Promise.all([
      refused(['--path', 'call', '--modes', 'streaming']),
      refused(['--persona', 'shared']),
      refused(['--path', 'api', '--persona', 'stable']),
      refused(['--persona', 'stable', '--modes', 'phrase']),
      refused(['--path', 'call', '--pulse', '0.3']),
    ]);
    for (const r of [callModes, who, stableApi, stablePhrase, engineOpt]) expect(r.code).toBe(2);
    expect(callModes.stderr).toMatch(/--path call has one \(each clip one call\)/);
    expect(who.stderr).toMatch(/unknown persona "shared"; personas: per-call, stable/);
    expect(stableApi.stderr).toMatch(/--persona stable: a stable persona masks calls/);
    expect(stablePhrase.stderr).toMatch(/not the API or phrase mode/);
    expect(engineOpt.stderr).toMatch(/--pulse is an engine option the bridge does not take/);
  });

  it('--help names the paths (the engine\'s, real calls through a bridge, the compatible API\'s) and the personas', async () => {
    const { stdout } = await run(TSX, [SCRIPT, '--help'], { cwd: ROOT });
    expect(stdout).toMatch(/--path engine\|call\|api/);
    expect(stdout).toMatch(/hotline call\s+through a real bridge/);
    expect(stdout).toMatch(/--persona per-call\|stable/);
  });
});
