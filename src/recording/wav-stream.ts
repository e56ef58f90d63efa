/**
 * The header of a WAV file written as a stream: 8 kHz G.711 mu-law (format tag 7), the bytes
 * exactly as the connection sent them, interleaved by channel. The length is unknown when the
 * header is written and the header cannot be rewritten later (it sits in the first encrypted
 * chunk), so the RIFF and data sizes are 0xFFFFFFFF, the "unknown length" streaming writers
 * leave: ffmpeg, sox and libsndfile read to the end of the file.
 */
export const RECORDING_SAMPLE_RATE = 8000;
export const WAV_FORMAT_MULAW = 7;
const UNKNOWN = 0xffffffff;

export function streamingWavHeader(channels: number, sampleRate = RECORDING_SAMPLE_RATE): Uint8Array {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(UNKNOWN, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(WAV_FORMAT_MULAW, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels, 28); // bytes per second: one byte per sample
  h.writeUInt16LE(channels, 32); // block align
  h.writeUInt16LE(8, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(UNKNOWN, 40);
  return new Uint8Array(h.buffer, h.byteOffset, h.length);
}
