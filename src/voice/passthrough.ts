/**
 * The 'passthrough' streaming converter: returns each 20 ms frame unchanged, with no delay.
 *
 * A DELIBERATE, NARROW EXCEPTION to the fail-closed invariant (src/voice/masked.ts): it
 * brands unconverted speech as MaskedAudio. It exists for one direction only, the
 * customer -> agent leg of a two-party line when the line masks the agent's voice only
 * (mask: agent). Nothing else may use it; src/line/ chooses it and only there. The agent's
 * own voice never goes through it: agent -> customer always uses the configured converter.
 */
import { FRAME_BYTES_8K, MULAW_SILENCE } from '../audio/mulaw.js';
import type { FrameStream, StreamingConverter } from './converter.js';
import { asMasked, type MaskedAudio } from './masked.js';

export const passthroughConverter: StreamingConverter = Object.freeze({
  name: 'passthrough',
  delayMs: 0,
  openStream(): FrameStream {
    let closed = false;
    return {
      push(frame: Uint8Array): MaskedAudio {
        if (closed) return asMasked(new Uint8Array(0));
        if (frame.length === FRAME_BYTES_8K) return asMasked(frame);
        // Not a whole frame (the pipeline's framer always sends whole ones): pad with silence.
        const out = new Uint8Array(FRAME_BYTES_8K).fill(MULAW_SILENCE);
        out.set(frame.subarray(0, FRAME_BYTES_8K));
        return asMasked(out);
      },
      flush: () => asMasked(new Uint8Array(0)),
      setVoice: () => {},
      close: () => {
        closed = true;
      },
    };
  },
});
