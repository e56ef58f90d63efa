/**
 * Writes the hostile files of test/helpers/bombs.ts into the fuzz corpus
 * (test/fixtures/fuzz-corpus/<name>.bin), where test/unit/audio/decode-fuzz.test.ts runs each
 * on every test run. Inputs the fuzzer finds are added there by hand, with a line in its README.
 *
 *   npx tsx scripts/make-fuzz-corpus.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { CORPUS_BOMBS } from '../tools/fakes/bombs.js';

const dir = new URL('../test/fixtures/fuzz-corpus/', import.meta.url);
mkdirSync(dir, { recursive: true });
for (const [name, make] of Object.entries(CORPUS_BOMBS)) {
  const b = make();
  writeFileSync(new URL(`${name}.bin`, dir), b);
  process.stdout.write(`${name}.bin ${b.length} bytes\n`);
}
