/**
 * Starting the product the ways operators do, from a copy of this checkout (so the test can
 * change its sources): seven `npm start` at once right after a source change (one atomic
 * build, every instance comes up), and `npm start` in a built checkout whose node_modules has
 * no dev dependencies (what `npm ci --omit=dev` leaves: no TypeScript).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** A copy of the checkout's sources; node_modules linked package by package (optionally without some). */
function copyCheckout(without: string[] = []): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vm-checkout-'));
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) cpSync(path.join(ROOT, f), path.join(dir, f));
  for (const d of ['src', 'twiml']) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  mkdirSync(path.join(dir, 'scripts'));
  cpSync(path.join(ROOT, 'scripts/build.mjs'), path.join(dir, 'scripts/build.mjs'));
  const nm = path.join(dir, 'node_modules');
  mkdirSync(nm);
  for (const name of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (name === '.bin' || without.includes(name)) continue;
    symlinkSync(path.join(ROOT, 'node_modules', name), path.join(nm, name), 'junction');
  }
  return dir;
}

interface Proc {
  child: ChildProcess;
  ready: Promise<string>;
  exit: Promise<number | null>;
  output: () => string;
}

function npmStart(cwd: string): Proc {
  const child = spawn(NPM, ['start', '--silent'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group: npm and node are stopped together
  });
  let out = '';
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += String(d);
      const m = /"url":"(http:\/\/[^"]+)"[^\n]*voice-mask ready/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d) => (out += String(d)));
    child.on('exit', (code) => reject(new Error(`npm start exited ${code} before ready:\n${out}`)));
  });
  ready.catch(() => {});
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, ready, exit, output: () => out };
}

const stop = (p: Proc) => {
  try {
    process.kill(-p.child.pid!, 'SIGTERM');
  } catch {
    // already gone
  }
};

const dirs: string[] = [];
const procs: Proc[] = [];
afterAll(() => {
  for (const p of procs) {
    try {
      process.kill(-p.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

let checkout: string;
beforeAll(() => {
  checkout = copyCheckout();
  dirs.push(checkout);
});

describe('starting from one checkout', () => {
  it('seven `npm start` at once after a source change: one atomic build, all seven come up', async () => {
    // a source change newer than any build (here: no build at all, then a second change)
    appendFileSync(path.join(checkout, 'src/main.ts'), '\n// changed by parallel-start.test.ts\n');
    const seven = Array.from({ length: 7 }, () => npmStart(checkout));
    procs.push(...seven);
    const urls = await Promise.all(seven.map((p) => p.ready));
    const health = await Promise.all(urls.map((u) => fetch(`${u}/healthz`).then((r) => r.status)));
    expect(health).toEqual(Array(7).fill(200));
    expect(new Set(urls).size).toBe(7);
    // built once, by one of them; the others waited for it and started that build
    expect(readdirSync(path.join(checkout, 'dist/builds'))).toHaveLength(1);
    const built = seven.filter((p) => /voice-mask build: built dist\/builds\//.test(p.output()));
    expect(built).toHaveLength(1);
    for (const p of seven) expect(p.output()).not.toMatch(/SyntaxError|ERR_MODULE_NOT_FOUND|does not provide an export/);

    // another change while they run: the next start builds beside them; they keep serving
    appendFileSync(path.join(checkout, 'src/main.ts'), '// changed again\n');
    const eighth = npmStart(checkout);
    procs.push(eighth);
    await eighth.ready;
    expect(readdirSync(path.join(checkout, 'dist/builds'))).toHaveLength(2);
    const still = await Promise.all(urls.map((u) => fetch(`${u}/readyz`).then((r) => r.status)));
    expect(still).toEqual(Array(7).fill(200));

    for (const p of [...seven, eighth]) stop(p);
    await Promise.all([...seven, eighth].map((p) => p.exit));
  }, 120_000);

  it('`npm start` works in a built checkout without dev dependencies (npm ci --omit=dev)', async () => {
    const prod = copyCheckout(['typescript', 'tsx', 'vitest', '@types', 'supertest', '@elevenlabs']);
    dirs.push(prod);
    // the sources and build of the checkout above, as a built checkout or image holds them
    cpSync(path.join(checkout, 'src'), path.join(prod, 'src'), { recursive: true, force: true });
    cpSync(path.join(checkout, 'dist'), path.join(prod, 'dist'), { recursive: true });
    expect(existsSync(path.join(prod, 'node_modules/typescript'))).toBe(false);
    const p = npmStart(prod);
    procs.push(p);
    const url = await p.ready;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    stop(p);
    await p.exit;
    // the sources were not changed since the build: nothing to say
    expect(p.output()).not.toMatch(/TypeScript is not installed/);
  }, 60_000);

  it('without a build and without TypeScript, `npm start` says what to run', async () => {
    const bare = copyCheckout(['typescript']);
    dirs.push(bare);
    const p = npmStart(bare);
    procs.push(p);
    expect(await p.exit).not.toBe(0);
    expect(p.output()).toMatch(/no build in dist\/ and TypeScript is not installed: run `npm ci && npm run build` first/);
  }, 60_000);
});
