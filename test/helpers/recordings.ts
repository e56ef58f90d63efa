/** Reading recordings back in tests: age decryption (library and CLI) and the stereo mu-law WAV inside. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as age from 'age-encryption';
import { parseWav } from '../../src/audio/wav.js';

export interface TestKey {
  identity: string;
  recipient: string;
  /** key.txt as age-keygen writes it (for `age -d -i`). */
  keyFile: string;
}

/** A key pair made for the test, its identity file in `dir`. */
export async function makeKey(dir: string): Promise<TestKey> {
  const identity = await age.generateIdentity();
  const recipient = await age.identityToRecipient(identity);
  const keyFile = path.join(dir, 'key.txt');
  writeFileSync(keyFile, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient, keyFile };
}

/** Decrypts a whole file with the age library (throws on a truncated or altered one). */
export async function decryptFile(file: string, identity: string): Promise<Uint8Array> {
  const d = new age.Decrypter();
  d.addIdentity(identity);
  return d.decrypt(readFileSync(file));
}

/**
 * A truncated file chunk by chunk: what decrypts, and the error that stopped it. The library
 * holds a full chunk back until more bytes follow (it could be the last); one byte appended
 * lets every complete chunk through, as `age -d` does.
 */
export async function decryptPartial(file: string, identity: string): Promise<{ plain: Uint8Array; error: Error | undefined }> {
  const d = new age.Decrypter();
  d.addIdentity(identity);
  const bytes = Buffer.concat([readFileSync(file), Buffer.alloc(1)]);
  const src = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(bytes));
      c.close();
    },
  });
  const out = await d.decrypt(src);
  const reader = out.getReader();
  const parts: Uint8Array[] = [];
  let error: Error | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
  } catch (err) {
    error = err as Error;
  }
  return { plain: new Uint8Array(Buffer.concat(parts)), error };
}

export const hasAgeCli = (() => {
  try {
    execFileSync('age', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();

/** `age -d -i key.txt file`: its output, exit status and message. */
export function ageCliDecrypt(file: string, keyFile: string): { status: number | null; out: Buffer; stderr: string } {
  const r = spawnSync('age', ['-d', '-i', keyFile, file], { maxBuffer: 256 * 1024 * 1024 });
  return { status: r.status, out: r.stdout, stderr: String(r.stderr) };
}

export interface RecordedWav {
  channels: number;
  sampleRate: number;
  formatTag: number;
  /** Each channel's mu-law bytes. */
  channel: Uint8Array[];
}

/** A mu-law WAV split into its channels. */
export function readRecordedWav(bytes: Uint8Array): RecordedWav {
  const w = parseWav(bytes);
  const k = w.channels;
  const frames = Math.floor(w.data.length / k);
  const channel = Array.from({ length: k }, () => new Uint8Array(frames));
  for (let i = 0; i < frames; i++) for (let c = 0; c < k; c++) channel[c]![i] = w.data[i * k + c]!;
  return { channels: k, sampleRate: w.sampleRate, formatTag: w.formatTag, channel };
}
