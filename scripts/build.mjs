#!/usr/bin/env node
/**
 * Builds dist/ without ever rewriting a build in place, so any number of processes may start
 * from one checkout while a build runs (plain JavaScript: it runs without dev dependencies).
 *
 *   dist/builds/<id>/...  one complete `tsc -p tsconfig.build.json` output per build, never modified,
 *                         with the operator console's front end (console/) bundled into console/public/
 *   dist/main.js          a one-line entry importing the current build, replaced by rename(2)
 *   dist/build.json       { id, sources, builtAt }: `sources` hashes src/, console/ and the tsconfigs
 *
 * A process that started keeps loading modules from its own build directory, whatever is built
 * afterwards. Builds run one at a time (a lock directory, taken over when its owner died); a
 * process that waited for another's build finds it fresh and does not build again.
 *
 *   node scripts/build.mjs              build now
 *   node scripts/build.mjs --if-stale   build only when the sources differ from the current build
 *   --optional                          without TypeScript (npm ci --omit=dev), keep the existing build
 *   --start                             (prestart) fail, saying what to do, when there is nothing to start
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');
const BUILDS = path.join(DIST, 'builds');
const STAMP = path.join(DIST, 'build.json');
const ENTRY = path.join(DIST, 'main.js');
const LOCK = path.join(DIST, '.build.lock');
const KEEP = 3; // builds kept (the current one and the two before it, for processes still running them)

const args = new Set(process.argv.slice(2));
const ifStale = args.has('--if-stale');
const optional = args.has('--optional');
const forStart = args.has('--start');
const say = (msg) => process.stderr.write(`voice-mask build: ${msg}\n`);

/** Hash of every file the build reads: src/, the console's front end, the tsconfigs (undefined when src/ is absent, e.g. in an image). */
function sourcesHash() {
  if (!existsSync(path.join(ROOT, 'src'))) return undefined;
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else h.update(path.relative(ROOT, p)).update('\0').update(readFileSync(p)).update('\0');
    }
  };
  walk(path.join(ROOT, 'src'));
  if (existsSync(path.join(ROOT, 'console'))) walk(path.join(ROOT, 'console'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json']) if (existsSync(path.join(ROOT, f))) h.update(f).update(readFileSync(path.join(ROOT, f)));
  return h.digest('hex').slice(0, 16);
}

function current() {
  try {
    const stamp = JSON.parse(readFileSync(STAMP, 'utf8'));
    return existsSync(path.join(BUILDS, stamp.id, 'main.js')) && existsSync(ENTRY) ? stamp : undefined;
  } catch {
    return undefined;
  }
}

const fresh = (hash) => {
  const c = current();
  return c !== undefined && (hash === undefined || c.sources === hash);
};

function findTsc() {
  try {
    const req = createRequire(path.join(ROOT, 'package.json'));
    const pkg = req.resolve('typescript/package.json');
    return path.join(path.dirname(pkg), 'bin', 'tsc');
  } catch {
    return undefined;
  }
}

/** Atomic file write: a temporary file in the same directory, then rename over the target. */
function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

async function withLock(fn) {
  mkdirSync(DIST, { recursive: true });
  const deadline = Date.now() + 10 * 60_000;
  for (let waited = false; ; waited = true) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner;
      try {
        owner = Number(readFileSync(path.join(LOCK, 'owner'), 'utf8'));
      } catch {
        // the owner is between mkdir and writing its pid
      }
      const age = Date.now() - (statSync(LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if ((owner && !alive(owner)) || age > 10 * 60_000) {
        say(`taking over a lock left by process ${owner ?? '?'}`);
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`another build (pid ${owner}) has held ${LOCK} for 10 minutes`);
      if (!waited) say(`waiting for the build of process ${owner ?? '?'}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

function prune(keepId) {
  const builds = readdirSync(BUILDS)
    .map((id) => ({ id, t: statSync(path.join(BUILDS, id)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const [i, b] of builds.entries()) {
    if (b.id !== keepId && i >= KEEP) rmSync(path.join(BUILDS, b.id), { recursive: true, force: true });
  }
  // a build that failed half-way leaves only its temporary directory
  for (const name of readdirSync(DIST)) if (name.startsWith('.tmp-')) rmSync(path.join(DIST, name), { recursive: true, force: true });
}

function build(tsc, hash) {
  const id = `${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${(hash ?? 'nosrc').slice(0, 8)}-${process.pid}`;
  const tmp = path.join(DIST, `.tmp-${id}`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', tmp], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`tsc failed (exit ${r.status ?? r.signal}): dist/ is unchanged`);
  }
  // The console's front end, bundled by the build's own module (src/console/bundle.ts) beside it
  // (a checkout without console/ builds the bridge alone; with ADMIN_TOKEN it then refuses to start, saying why).
  const bundled = !existsSync(path.join(ROOT, 'console', 'app.ts')) ? { status: 0 } : spawnSync(process.execPath, [path.join(tmp, 'console', 'bundle.js'), ROOT, path.join(tmp, 'console', 'public')], { cwd: ROOT, stdio: 'inherit' });
  if (bundled.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`the operator console's front end failed to build (exit ${bundled.status ?? bundled.signal}): dist/ is unchanged`);
  }
  mkdirSync(BUILDS, { recursive: true });
  renameSync(tmp, path.join(BUILDS, id));
  writeAtomic(ENTRY, `// Generated by scripts/build.mjs: the current build. Do not edit.\nimport './builds/${id}/main.js';\n`);
  writeAtomic(STAMP, `${JSON.stringify({ id, sources: hash, builtAt: new Date().toISOString() }, null, 2)}\n`);
  prune(id);
  say(`built dist/builds/${id} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function main() {
  const hash = sourcesHash();
  if (ifStale && fresh(hash)) return;
  const tsc = findTsc();
  if (!tsc) {
    const have = current();
    if (optional && have) {
      if (!fresh(hash)) say('TypeScript is not installed (production install): using the existing build, although src/ changed since it was made');
      return;
    }
    if (optional && !forStart) {
      say('TypeScript is not installed and there is no build yet: `npm start` will need one (`npm ci && npm run build`, or the Docker image)');
      return;
    }
    throw new Error(
      have ? 'TypeScript is not installed: run `npm ci` (with dev dependencies) to rebuild' : 'no build in dist/ and TypeScript is not installed: run `npm ci && npm run build` first (or use the Docker image)',
    );
  }
  await withLock(() => {
    // another process may have built these very sources while we waited
    if (ifStale && fresh(hash)) return;
    build(tsc, hash);
  });
}

main().catch((err) => {
  say(err.message);
  process.exit(1);
});
