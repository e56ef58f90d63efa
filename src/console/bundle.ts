/**
 * Builds the console's front end (console/ at the repository root) into the files the bridge
 * serves: app.js (console/app.ts bundled and minified by esbuild), style.css (minified),
 * index.html, signin.html and icon.svg. After tsc, scripts/build.mjs runs the compiled module
 * (`node <build>/console/bundle.js <repository> <out dir>`), which writes the files beside the
 * compiled server (dist/builds/<id>/console/public/); a bridge started from the sources (tsx,
 * the tests) calls bundleConsole once at start when no build is beside it. esbuild is a
 * development dependency: a production install serves the built files and never loads it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Every file of the console the bridge serves, by name. */
export const CONSOLE_FILES = ['app.js', 'style.css', 'index.html', 'signin.html', 'icon.svg'] as const;
export type ConsoleFile = (typeof CONSOLE_FILES)[number];

/** Bundles console/ under `root` (the repository) into the served files. */
export async function bundleConsole(root: string): Promise<Map<ConsoleFile, Buffer>> {
  const src = path.join(root, 'console');
  const esbuild = await import('esbuild');
  const app = await esbuild.build({
    entryPoints: [path.join(src, 'app.ts')],
    bundle: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const css = await esbuild.transform(await readFile(path.join(src, 'style.css'), 'utf8'), { loader: 'css', minify: true, target: ['chrome110', 'firefox110', 'safari16'] });
  const files = new Map<ConsoleFile, Buffer>();
  files.set('app.js', Buffer.from(app.outputFiles[0]!.contents));
  files.set('style.css', Buffer.from(css.code));
  for (const f of ['index.html', 'signin.html', 'icon.svg'] as const) files.set(f, await readFile(path.join(src, f)));
  return files;
}

/** Run as a program: bundle console/ of the repository argv[2] into the folder argv[3]. */
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const [root, out] = process.argv.slice(2);
  if (!root || !out) throw new Error('usage: node console/bundle.js <repository> <out dir>');
  const files = await bundleConsole(root);
  await mkdir(out, { recursive: true });
  for (const [name, body] of files) await writeFile(path.join(out, name), body);
}
