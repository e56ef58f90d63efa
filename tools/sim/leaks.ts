/** The "caller's own audio came back" detector: exact inbound frames found in what the bridge sent. */
import { mulawDbfs } from './phrases.js';
import { FRAME_BYTES_8K } from '../../src/audio/index.js';

/** Frames quieter than this, or with fewer distinct byte values than 8, are not evidence of a leak. */
const SILENT_DB = -50;

export function isInformativeFrame(frame: Uint8Array): boolean {
  if (mulawDbfs(frame) <= SILENT_DB) return false;
  const seen = new Set<number>();
  for (const b of frame) {
    seen.add(b);
    if (seen.size >= 8) return true;
  }
  return false;
}

const BASE = 257;
const MOD = 2147483629; // prime < 2^31

/**
 * Counts inbound frames (non-silent, informative ones only) whose exact bytes appear anywhere
 * in the received stream, at any byte offset. Rolling hash over the received windows, then an
 * exact compare on every hash hit.
 */
export function findLeakedFrames(sent: Uint8Array[], received: Uint8Array): number {
  const frames = sent.filter((f) => f.length > 0 && isInformativeFrame(f));
  if (frames.length === 0) return 0;
  const recv = Buffer.from(received.buffer, received.byteOffset, received.byteLength);
  const byLen = new Map<number, Uint8Array[]>();
  for (const f of frames) {
    const list = byLen.get(f.length) ?? [];
    list.push(f);
    byLen.set(f.length, list);
  }
  let leaked = 0;
  for (const [len, list] of byLen) {
    if (len > recv.length) continue;
    const windows = windowHashes(recv, len);
    for (const f of list) {
      if (!windows.has(hash(f, len))) continue;
      if (recv.indexOf(Buffer.from(f.buffer, f.byteOffset, f.byteLength)) >= 0) leaked++;
    }
  }
  return leaked;
}

function hash(b: Uint8Array, len: number): number {
  let h = 0;
  for (let i = 0; i < len; i++) h = (h * BASE + b[i]!) % MOD;
  return h;
}

function windowHashes(b: Uint8Array, len: number): Set<number> {
  const out = new Set<number>();
  let pow = 1;
  for (let i = 0; i < len - 1; i++) pow = (pow * BASE) % MOD;
  let h = hash(b, len);
  out.add(h);
  for (let i = len; i < b.length; i++) {
    h = (h - ((b[i - len]! * pow) % MOD) + MOD) % MOD;
    h = (h * BASE + b[i]!) % MOD;
    out.add(h);
  }
  return out;
}

/** Splits mu-law into 160-byte frames (the last one padded with 0xFF). */
export function toFrames(mulaw: Uint8Array, frameBytes = FRAME_BYTES_8K): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < mulaw.length; o += frameBytes) {
    const f = new Uint8Array(frameBytes).fill(0xff);
    f.set(mulaw.subarray(o, Math.min(o + frameBytes, mulaw.length)));
    out.push(f);
  }
  return out;
}
