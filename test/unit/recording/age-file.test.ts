import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgeFile, AGE_CHUNK_BYTES, recipientProblems } from '../../../src/recording/age-file.js';
import { ageCliDecrypt, decryptFile, decryptPartial, hasAgeCli, makeKey } from '../../helpers/recordings.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'age-file-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await sleep(10);
  if (!ok()) throw new Error(`timed out waiting for ${what}`);
}
/** Recognisable plaintext: a marker every 16 bytes. */
function plain(n: number, seed: number): Uint8Array {
  const out = Buffer.alloc(n);
  for (let o = 0; o < n; o += 16) out.write(`PLAIN${String(seed).padStart(3, '0')}${String(o % 1e8).padStart(8, '0')}`.slice(0, Math.min(16, n - o)), o, 'latin1');
  return new Uint8Array(out);
}

describe('AgeFile', () => {
  it('is age from the first byte, never holds plaintext on disk, and decrypts with the library and `age -d`', async () => {
    const dir = tmp();
    const key = await makeKey(dir);
    const file = path.join(dir, 'a.wav.age');
    const f = new AgeFile(file, { recipients: [key.recipient] });
    const parts = Array.from({ length: 50 }, (_, i) => plain(4000 + i, i)); // ~3 chunks
    for (const [i, p] of parts.entries()) {
      expect(f.write(p)).toBe(true);
      if (i % 10 === 9) {
        await until('the header on disk', () => f.bytesWritten > 0);
        const disk = readFileSync(file);
        expect(disk.subarray(0, 22).toString('latin1')).toBe('age-encryption.org/v1\n');
        expect(disk.includes(Buffer.from('PLAIN'))).toBe(false);
      }
    }
    // Full chunks reach the disk while the file is still being written.
    await until('two chunks on disk', () => statSync(file).size > 2 * AGE_CHUNK_BYTES);
    await f.end();
    expect(f.write(plain(10, 0))).toBe(false);
    const all = Buffer.concat(parts);
    expect(Buffer.compare(Buffer.from(await decryptFile(file, key.identity)), all)).toBe(0);
    expect(f.bytesWritten).toBe(statSync(file).size);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    if (hasAgeCli) {
      const r = ageCliDecrypt(file, key.keyFile);
      expect(r.status).toBe(0);
      expect(Buffer.compare(r.out, all)).toBe(0);
    }
  });

  it('stopped mid-file, it still decrypts up to its last complete chunk', async () => {
    const dir = tmp();
    const key = await makeKey(dir);
    const file = path.join(dir, 'b.wav.age');
    const f = new AgeFile(file, { recipients: [key.recipient] });
    const data = plain(3 * AGE_CHUNK_BYTES + 500, 7);
    f.write(data);
    await until('three chunks on disk', () => f.bytesWritten > 3 * AGE_CHUNK_BYTES);
    await sleep(20);
    f.abort(new Error('the process died'));
    await expect(f.done).rejects.toThrow('the process died');
    const { plain: got, error } = await decryptPartial(file, key.identity);
    expect(error).toBeDefined();
    expect(got.length).toBe(3 * AGE_CHUNK_BYTES);
    expect(Buffer.compare(Buffer.from(got), Buffer.from(data.subarray(0, got.length)))).toBe(0);
    if (hasAgeCli) {
      const r = ageCliDecrypt(file, key.keyFile);
      expect(r.status).not.toBe(0);
      expect(r.out.length).toBe(3 * AGE_CHUNK_BYTES);
    }
  });

  it('a folder that is gone fails the file: `done` rejects with the code, writes are refused', async () => {
    const dir = tmp();
    const key = await makeKey(dir);
    rmSync(path.join(dir), { recursive: true });
    const f = new AgeFile(path.join(dir, 'c.wav.age'), { recipients: [key.recipient] });
    f.write(plain(100, 1));
    await expect(f.done).rejects.toMatchObject({ code: 'ENOENT' });
    expect(f.write(plain(100, 2))).toBe(false);
    expect(f.failed).toMatchObject({ code: 'ENOENT' });
  });

  it('names bad recipients, and refuses a secret key without echoing it', async () => {
    const { recipient } = await makeKey(tmp());
    expect(recipientProblems([recipient])).toEqual([]);
    const broken = recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q');
    expect(recipientProblems([recipient, broken])).toEqual([expect.stringMatching(new RegExp(`^"${broken}" is not a valid age X25519 recipient`))]);
    expect(recipientProblems(['age1pq1xyz'])[0]).toMatch(/not an age X25519 recipient/);
    const secret = recipientProblems(['AGE-SECRET-KEY-1ABCDEF']);
    expect(secret[0]).toMatch(/secret key/);
    expect(secret[0]).not.toContain('ABCDEF');
    expect(recipientProblems([])).toEqual(['no recipient given']);
  });
});
