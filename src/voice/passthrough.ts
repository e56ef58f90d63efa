/**
 * The 'passthrough' converter: returns each 20 ms frame unchanged (re-encoded to mu-law, which
 * is lossless for audio that came in as mu-law), with no delay.
 *
 * A DELIBERATE, NARROW EXCEPTION to the fail-closed invariant (src/voice/masked.ts): it
 * brands unconverted speech as MaskedAudio. It exists for one direction only, the
 * customer -> agent leg of a two-party line when the line masks the agent's voice only
 * (mask: agent). Nothing else may use it; src/session/line/ chooses it and only there. The agent's
 * own voice never goes through it: agent -> customer always uses the configured converter.
 */
import { mulawEncode } from '../audio/mulaw.js';
import type { FrameStream } from './converter.js';
import { asMasked } from './masked.js';

/** A passthrough frame stream (the pipeline's frame adapter turns it into a converter). */
export function openPassthroughFrames(): FrameStream {
  return {
    push: (pcm: Int16Array) => asMasked(mulawEncode(pcm)),
    flush: () => asMasked(new Uint8Array(0)),
    setVoice: () => {},
    close: () => {},
  };
}
