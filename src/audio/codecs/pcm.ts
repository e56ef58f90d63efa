/** Sample conversions shared by the codecs. */

/** Mixes float channels (-1..1) to mono PCM16, clamped. */
export function floatToMono16(channels: readonly Float32Array[], n: number): Int16Array {
  const out = new Int16Array(n);
  const c = channels.length;
  if (c === 0) return out;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < c; k++) s += channels[k]![i] ?? 0;
    const v = (s / c) * 32768;
    out[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
  }
  return out;
}

/** Mixes interleaved PCM16 to mono. */
export function interleaved16ToMono(x: Int16Array, channels: number): Int16Array {
  if (channels === 1) return x;
  const n = Math.floor(x.length / channels);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < channels; c++) s += x[i * channels + c]!;
    out[i] = Math.round(s / channels);
  }
  return out;
}

/** A PCM16 array's bytes (no copy), little-endian as on every platform Node runs on. */
export function pcm16Bytes(x: Int16Array): Uint8Array {
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}

/** Joins chunks into one array. */
export function concatChunks(chunks: readonly Int16Array[]): Int16Array {
  const out = new Int16Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
