/**
 * A frame backend as a Converter: each pushed frame is masked at once and written into one
 * long slot ('live'), so the listener hears the speaker a fixed delay behind, with no phrase
 * boundaries. Used by the embedded engine in streaming mode and by the two-party passthrough.
 */
import type { FrameStream } from '../voice/converter.js';
import type { Converter, ConverterStream, StreamOptions } from './contracts.js';

export function frameConverter(
  name: string,
  openFrames: (opts: { voiceId: string; log: StreamOptions['log']; callKey: string; seed?: number; stable?: boolean }) => FrameStream,
  close: () => Promise<void> = async () => {},
): Converter {
  return {
    name,
    segmentsSpeech: false,
    open(opts: StreamOptions): ConverterStream {
      const frames = openFrames({ voiceId: opts.voiceId, log: opts.log, callKey: opts.callKey, ...(opts.persona && { seed: opts.persona.seed, stable: true }) });
      const slot = opts.output.openSlot('live', { live: true });
      let voiceId = opts.voiceId;
      let stopped = false;
      const stop = () => {
        if (stopped) return;
        stopped = true;
        frames.close();
        slot.fail();
      };
      if (opts.signal.aborted) stop();
      else opts.signal.addEventListener('abort', stop, { once: true });
      return {
        get voiceId() {
          return voiceId;
        },
        push(frame) {
          if (!stopped) slot.write(frames.push(frame.pcm));
        },
        setVoice(id) {
          voiceId = id;
          frames.setVoice(id);
        },
      };
    },
    close,
  };
}
