/**
 * A minimal WebM/Matroska demuxer for audio: finds the first audio track and its frames (the
 * Opus packets a browser's MediaRecorder writes). Walks EBML elements linearly, descending into
 * the master elements that matter, so the unknown-size Segment and Clusters MediaRecorder
 * produces are read as they come. Hostile framing is refused as it is met: an empty frame (a
 * laced block can declare 256 of them in 7 bytes), or more frames than `maxFrames` (they are
 * never all held).
 */
export class WebmError extends Error {
  override name = 'WebmError';
  constructor(
    message: string,
    /** More frames than maxFrames. */
    readonly tooMany = false,
  ) {
    super(message);
  }
}

export interface DemuxOptions {
  /** Frames of the audio track past which the file is refused (a WebmError with tooMany). */
  maxFrames?: number;
}

export interface WebmAudio {
  codecId: string;
  sampleRate: number;
  channels: number;
  codecPrivate?: Uint8Array;
  /** Frames of the audio track, in file order. */
  frames: Uint8Array[];
  /** An element (or a sized Segment/Cluster) ends past the end of the file. */
  truncated: boolean;
}

const ID = {
  Segment: 0x18538067,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  BlockGroup: 0xa0,
  Block: 0xa1,
  SimpleBlock: 0xa3,
};
const MASTERS = new Set([ID.Segment, ID.Tracks, ID.TrackEntry, ID.Audio, ID.Cluster, ID.BlockGroup]);

/** A variable-length integer at o: its value (marker bit removed unless keepMarker) and length. */
function vint(b: Uint8Array, o: number, keepMarker: boolean): { value: number; len: number; unknown: boolean } | undefined {
  const first = b[o];
  if (first === undefined || first === 0) return undefined;
  const len = Math.clz32(first) - 23;
  if (o + len > b.length) return undefined;
  let value = keepMarker ? first : first & (0xff >> len);
  let allOnes = value === 0xff >> len;
  for (let i = 1; i < len; i++) {
    value = value * 256 + b[o + i]!;
    if (b[o + i] !== 0xff) allOnes = false;
  }
  return { value, len, unknown: !keepMarker && allOnes };
}

interface Track {
  number: number;
  type?: number;
  codecId?: string;
  codecPrivate?: Uint8Array;
  sampleRate?: number;
  channels?: number;
}

function readUint(b: Uint8Array): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

function readFloat(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return b.length === 4 ? dv.getFloat32(0) : b.length === 8 ? dv.getFloat64(0) : NaN;
}

/** Splits a (Simple)Block's payload into frames after its header; undefined for another track. */
function blockFrames(body: Uint8Array, track: number): Uint8Array[] | undefined {
  const tn = vint(body, 0, false);
  if (!tn || tn.value !== track) return undefined;
  const flagsAt = tn.len + 2;
  const flags = body[flagsAt];
  if (flags === undefined) throw new WebmError('truncated block');
  const lacing = (flags >> 1) & 3;
  let o = flagsAt + 1;
  if (lacing === 0) {
    if (o >= body.length) throw new WebmError('an empty frame');
    return [body.subarray(o)];
  }
  if (o >= body.length) throw new WebmError('truncated block');
  const count = body[o++]! + 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    // Xiph lacing
    for (let i = 0; i < count - 1; i++) {
      let s = 0;
      let x: number;
      do {
        x = body[o++]!;
        s += x;
      } while (x === 255 && o < body.length);
      sizes.push(s);
    }
  } else if (lacing === 3) {
    // EBML lacing: first size a vint, then signed differences
    const first = vint(body, o, false);
    if (!first) throw new WebmError('bad EBML lacing');
    o += first.len;
    sizes.push(first.value);
    for (let i = 1; i < count - 1; i++) {
      const d = vint(body, o, false);
      if (!d) throw new WebmError('bad EBML lacing');
      o += d.len;
      const bias = 2 ** (7 * d.len - 1) - 1;
      sizes.push(sizes[i - 1]! + d.value - bias);
    }
  } else {
    const each = Math.floor((body.length - o) / count);
    for (let i = 0; i < count - 1; i++) sizes.push(each);
  }
  const frames: Uint8Array[] = [];
  for (const s of sizes) {
    if (s < 0 || o + s > body.length) throw new WebmError('bad lacing sizes');
    frames.push(body.subarray(o, o + s));
    o += s;
  }
  frames.push(body.subarray(o));
  if (frames.some((f) => f.length === 0)) throw new WebmError(`a block laces ${frames.filter((f) => f.length === 0).length} empty frame(s)`);
  return frames;
}

export function demuxWebmAudio(b: Uint8Array, opts: DemuxOptions = {}): WebmAudio {
  const maxFrames = opts.maxFrames ?? Infinity;
  const tracks: Track[] = [];
  let current: Track | undefined;
  let audio: Track | undefined;
  const pendingBlocks: Uint8Array[] = [];
  const frames: Uint8Array[] = [];
  let o = 0;
  let truncated = false;
  // Skip the EBML header element.
  const hid = vint(b, 0, true);
  const hsize = hid && vint(b, hid.len, false);
  if (!hid || hid.value !== 0x1a45dfa3 || !hsize) throw new WebmError('not an EBML file');
  o = hid.len + hsize.len + hsize.value;
  while (o < b.length) {
    const id = vint(b, o, true);
    if (!id) break;
    const size = vint(b, o + id.len, false);
    if (!size) {
      truncated = true;
      break;
    }
    const body = o + id.len + size.len;
    if (!size.unknown && body + size.value > b.length) truncated = true;
    if (MASTERS.has(id.value)) {
      if (id.value === ID.TrackEntry) {
        current = { number: 0 };
        tracks.push(current);
      }
      o = body; // descend
      continue;
    }
    if (size.unknown) throw new WebmError(`unknown-size element 0x${id.value.toString(16)}`);
    const data = b.subarray(body, Math.min(b.length, body + size.value));
    if (current) {
      if (id.value === ID.TrackNumber) current.number = readUint(data);
      else if (id.value === ID.TrackType) current.type = readUint(data);
      else if (id.value === ID.CodecID) current.codecId = new TextDecoder().decode(data).replace(/\0+$/, '');
      else if (id.value === ID.CodecPrivate) current.codecPrivate = data;
      else if (id.value === ID.SamplingFrequency) current.sampleRate = readFloat(data);
      else if (id.value === ID.Channels) current.channels = readUint(data);
    }
    if (id.value === ID.SimpleBlock || id.value === ID.Block) {
      audio ??= tracks.find((t) => t.type === 2 || t.codecId?.startsWith('A_'));
      if (audio) {
        const f = blockFrames(data, audio.number);
        if (f) frames.push(...f);
      } else pendingBlocks.push(data);
      if (frames.length + pendingBlocks.length > maxFrames) throw new WebmError(`more than ${maxFrames} frames`, true);
    }
    o = body + size.value;
  }
  audio ??= tracks.find((t) => t.type === 2 || t.codecId?.startsWith('A_'));
  if (!audio?.codecId) throw new WebmError('no audio track');
  for (const blk of pendingBlocks) {
    frames.push(...(blockFrames(blk, audio.number) ?? []));
    if (frames.length > maxFrames) throw new WebmError(`more than ${maxFrames} frames`, true);
  }
  return {
    codecId: audio.codecId,
    sampleRate: audio.sampleRate ?? 48000,
    channels: audio.channels ?? 1,
    ...(audio.codecPrivate && { codecPrivate: audio.codecPrivate }),
    frames,
    truncated,
  };
}
