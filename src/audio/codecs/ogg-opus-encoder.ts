/**
 * Incremental Ogg Opus encoding (RFC 7845) with libopus (opusscript, MIT/BSD): 48 kHz mono
 * PCM16 in, pages out as soon as whole 20 ms packets are ready. Granule positions count the 48 kHz
 * samples the packets decode to (pre-skip included); the last page's is pre-skip + input length,
 * which cuts the final packet's padding,
 * so players show the true duration.
 */
import { randomInt } from 'node:crypto';
import OpusScript from 'opusscript';
import { OGG_BOS, OGG_EOS, OggPageWriter } from './ogg-pages.js';

const RATE = 48000;
const FRAME = 960; // 20 ms
/** libopus' encoder look-ahead at 48 kHz (restricted-lowdelay aside): the pre-skip. */
const PRE_SKIP = 312;
const VENDOR = 'voice-mask (libopus via opusscript)';

function opusHead(): Uint8Array {
  const h = new Uint8Array(19);
  const dv = new DataView(h.buffer);
  h.set(new TextEncoder().encode('OpusHead'), 0);
  h[8] = 1; // version
  h[9] = 1; // channels
  dv.setUint16(10, PRE_SKIP, true);
  dv.setUint32(12, RATE, true);
  dv.setInt16(16, 0, true); // output gain
  h[18] = 0; // mapping family
  return h;
}

function opusTags(): Uint8Array {
  const vendor = new TextEncoder().encode(VENDOR);
  const t = new Uint8Array(8 + 4 + vendor.length + 4);
  const dv = new DataView(t.buffer);
  t.set(new TextEncoder().encode('OpusTags'), 0);
  dv.setUint32(8, vendor.length, true);
  t.set(vendor, 12);
  dv.setUint32(12 + vendor.length, 0, true);
  return t;
}

export class OggOpusEncoder {
  private readonly opus: OpusScript;
  private readonly pages = new OggPageWriter(randomInt(0, 2 ** 32 - 1));
  private pending = new Int16Array(0);
  private samples = 0; // real samples taken in
  private encoded = 0; // samples covered by packets written
  private started = false;
  private done = false;

  constructor(bitrate: number) {
    this.opus = new OpusScript(RATE, 1, OpusScript.Application.AUDIO);
    this.opus.setBitrate(bitrate);
  }

  private header(): Uint8Array[] {
    if (this.started) return [];
    this.started = true;
    return [this.pages.page([opusHead()], 0n, OGG_BOS), this.pages.page([opusTags()], 0n)];
  }

  private packets(x: Int16Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let o = 0; o + FRAME <= x.length; o += FRAME) {
      const frame = x.subarray(o, o + FRAME);
      out.push(new Uint8Array(this.opus.encode(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), FRAME)));
      this.encoded += FRAME;
    }
    return out;
  }

  /** Data pages for the packets this input completes (the headers first, on the first call). */
  push(pcm48k: Int16Array): Uint8Array[] {
    if (this.done) throw new Error('OggOpusEncoder: push after end');
    const out = this.header();
    const all = new Int16Array(this.pending.length + pcm48k.length);
    all.set(this.pending);
    all.set(pcm48k, this.pending.length);
    this.samples += pcm48k.length;
    const whole = all.length - (all.length % FRAME);
    this.pending = all.slice(whole);
    const pkts = this.packets(all.subarray(0, whole));
    // A page holds at most 255 lacing values: 100 packets of up to 640 bytes stay well under.
    for (let i = 0; i < pkts.length; i += 100) {
      const chunk = pkts.slice(i, i + 100);
      out.push(this.pages.page(chunk, BigInt(this.encoded - (pkts.length - i - chunk.length) * FRAME)));
    }
    return out;
  }

  /** The last packets (the pre-skip's worth of look-ahead flushed, zero-padded) on an EOS page. */
  end(): Uint8Array[] {
    if (this.done) return [];
    const out = this.header();
    this.done = true;
    // Feed enough zeros that the encoder's look-ahead releases every real sample.
    const tail = this.pending.length + PRE_SKIP;
    const padded = new Int16Array(Math.ceil(tail / FRAME) * FRAME);
    padded.set(this.pending);
    const pkts = this.packets(padded);
    out.push(this.pages.page(pkts, BigInt(PRE_SKIP + this.samples), OGG_EOS));
    this.opus.delete();
    return out;
  }

  destroy(): void {
    if (!this.done) {
      this.done = true;
      this.opus.delete();
    }
  }
}
