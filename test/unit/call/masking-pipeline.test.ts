import { beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { loadConfig } from '../../../src/config/env.js';
import { MaskingPipeline } from '../../../src/call/masking-pipeline.js';
import { Playout, type PlayoutSink } from '../../../src/playout/playout.js';
import { initVad, segmenterOptionsFromConfig } from '../../../src/vad/index.js';
import { passthroughConverter } from '../../../src/voice/passthrough.js';

const log = pino({ level: 'silent' });

beforeAll(async () => {
  await initVad();
});

describe('MaskingPipeline', () => {
  it('a send that ends the call mid-payload (the peer stopped reading) stops the pipeline quietly', () => {
    let pipeline: MaskingPipeline | undefined;
    let sends = 0;
    // What a MediaStreamConnection does when the peer's buffer is full: the call is closed from inside the send.
    const sink: PlayoutSink = {
      sendMedia: () => {
        sends++;
        pipeline?.close();
        return false;
      },
      sendMark: () => false,
      sendClear: () => false,
    };
    const playout = new Playout(sink, { chunkMs: 20, clearBacklogMs: 0 }, log);
    pipeline = new MaskingPipeline({
      mode: { kind: 'streaming', converter: passthroughConverter },
      segmenter: segmenterOptionsFromConfig(loadConfig({})),
      playout,
      voiceId: 'any',
      callKey: 'CA1',
      log,
    });
    // Three 20 ms frames in one media message.
    expect(() => pipeline!.push(new Uint8Array(480).fill(0x55))).not.toThrow();
    expect(sends).toBe(1);
  });
});
