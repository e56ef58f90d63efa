/**
 * A file encrypted with age (age-encryption.org/v1) while it is written: the header (the file
 * key wrapped to each X25519 recipient) is the first thing on disk, then the payload in age's
 * STREAM format, 64 KiB chunks each sealed with ChaCha20-Poly1305 as it fills. Plaintext lives
 * only in memory (at most one chunk, plus what the disk has not taken yet); the bridge holds
 * recipients only, so it cannot decrypt what it wrote.
 *
 * A process that dies mid-call leaves every complete chunk on disk: `age -d` writes them out,
 * then reports the end as truncated (the final chunk, which carries age's "last" flag, is
 * missing).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Encrypter } from 'age-encryption';

/** Plaintext bytes per STREAM chunk (age's fixed size). */
export const AGE_CHUNK_BYTES = 64 * 1024;

/** What is not X25519 (age1...) or does not decode: one sentence per bad recipient, empty if all are good. */
export function recipientProblems(recipients: readonly string[]): string[] {
  const problems: string[] = [];
  if (recipients.length === 0) problems.push('no recipient given');
  for (const r of recipients) {
    if (/^AGE-SECRET-KEY-/i.test(r)) {
      problems.push('an age secret key was given where a recipient belongs: the bridge must never hold the key that decrypts recordings; give its public recipient (age-keygen -y key.txt)');
      continue;
    }
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r) || /^age1(pq|tag)/.test(r)) {
      problems.push(`"${r}" is not an age X25519 recipient (age1 followed by 58 characters, as age-keygen -y prints it)`);
      continue;
    }
    try {
      new Encrypter().addRecipient(r);
    } catch (err) {
      problems.push(`"${r}" is not a valid age X25519 recipient (${(err as Error).message}): check it was copied whole`);
    }
  }
  return problems;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
    if (bytesWritten <= 0) throw Object.assign(new Error('the file system took no bytes'), { code: 'EIO' });
    off += bytesWritten;
  }
}

export interface AgeFileOptions {
  /** age X25519 recipients (checked with recipientProblems first). */
  recipients: readonly string[];
  /** Ciphertext bytes that reached the file. */
  onBytes?: (n: number) => void;
  /** Plaintext waiting for the disk beyond this fails the file (a stalled or far too slow disk). */
  maxBacklogBytes?: number;
}

/** A new file (never an existing one), mode 0600, written as an age stream. */
export class AgeFile {
  /** Ciphertext bytes on disk. */
  bytesWritten = 0;
  private ctl!: ReadableStreamDefaultController<Uint8Array>;
  private readonly source: ReadableStream<Uint8Array>;
  private ended = false;
  private failure: Error | undefined;
  private readonly maxBacklog: number;
  /** Resolves when the final chunk is written (the file is whole); rejects with the first error. */
  readonly done: Promise<void>;

  constructor(
    readonly path: string,
    private readonly opts: AgeFileOptions,
  ) {
    this.maxBacklog = opts.maxBacklogBytes ?? 8 * 1024 * 1024;
    this.source = new ReadableStream<Uint8Array>({ start: (c) => void (this.ctl = c) }, new ByteLengthQueuingStrategy({ highWaterMark: AGE_CHUNK_BYTES }));
    this.done = this.run();
    this.done.catch(() => {}); // the owner reads the failure from `done` or `failed`
  }

  /** The error that stopped the file, if any. */
  get failed(): Error | undefined {
    return this.failure;
  }

  /** Queues plaintext. False once the file has failed or ended (the bytes are dropped). */
  write(bytes: Uint8Array): boolean {
    if (this.ended || this.failure) return false;
    if (bytes.length === 0) return true;
    if ((this.ctl.desiredSize ?? 0) < -this.maxBacklog) {
      this.fail(Object.assign(new Error(`the disk has not taken ${Math.round(this.maxBacklog / 1024)} KiB of this recording: too slow or stalled`), { code: 'EBACKLOG' }));
      return false;
    }
    this.ctl.enqueue(bytes.slice());
    return true;
  }

  /** Seals the final chunk and closes the file. */
  end(): Promise<void> {
    if (!this.ended && !this.failure) {
      this.ended = true;
      this.ctl.close();
    }
    return this.done;
  }

  /** Stops at once: what is on disk stays (decryptable up to its last complete chunk). */
  abort(err: Error): void {
    this.fail(err);
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    try {
      this.ctl.error(err);
    } catch {
      // already closed or errored
    }
  }

  private async run(): Promise<void> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(this.path, 'wx', 0o600);
      const e = new Encrypter();
      for (const r of this.opts.recipients) e.addRecipient(r);
      const cipher = await e.encrypt(this.source);
      const reader = cipher.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await writeAll(fh, value);
          this.bytesWritten += value.length;
          this.opts.onBytes?.(value.length);
        }
      } catch (err) {
        void reader.cancel(err).catch(() => {});
        throw err;
      }
      // Sealed: every byte is in the file. Closing the handle need not hold up the sidecar.
      void fh.close().catch(() => {});
      fh = undefined;
    } catch (err) {
      this.fail(err as Error);
      throw this.failure ?? err;
    } finally {
      await fh?.close().catch(() => {});
    }
  }
}
