/**
 * The console's files: the build's (console/public/ beside this module, written by
 * scripts/build.mjs), or, for a bridge started from the sources, console/ bundled once in
 * memory (./bundle.ts). Nothing is fetched from anywhere: every asset is served by the bridge.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleConsole, CONSOLE_FILES, type ConsoleFile } from './bundle.js';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
};

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The repository holding console/app.ts above this module (a bridge run from its sources). */
function sourceRoot(): string | undefined {
  for (let dir = HERE; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'console', 'app.ts'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

export async function loadConsoleAssets(): Promise<Map<ConsoleFile, Asset>> {
  const built = path.join(HERE, 'public');
  let files: Map<ConsoleFile, Buffer>;
  if (existsSync(path.join(built, 'app.js'))) {
    files = new Map();
    for (const f of CONSOLE_FILES) files.set(f, await readFile(path.join(built, f)));
  } else {
    const root = sourceRoot();
    if (!root) throw new Error(`the operator console's files are missing (${built}): run npm run build`);
    files = await bundleConsole(root);
  }
  const out = new Map<ConsoleFile, Asset>();
  for (const [name, body] of files) {
    out.set(name, { body, type: TYPES[path.extname(name)] ?? 'application/octet-stream', etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return out;
}
