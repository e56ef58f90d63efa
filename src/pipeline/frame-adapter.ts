/**
 * A frame backend as a Converter: each pushed frame is masked at once and written into one
 * long slot ('live'), so the listener hears the speaker a fixed delay behind, with no phrase
 * boundaries. Used by the embedded engine in streaming mode and by the two-party passthrough.
 */
import type { Converter, ConverterStream, FrameStream, StreamOptions } from '../voice/converter.js';

export function frameConverter(name: string, openFrames: (opts: { voiceId: string; log: StreamOptions['log']; callKey: string }) => FrameStream, close: () => Promise<void> = async () => {}): Converter {
  return {
    name,
    segmentsSpeech: false,
    open(opts: StreamOptions): ConverterStream {
      const frames = openFrames({ voiceId: opts.voiceId, log: opts.log, callKey: opts.callKey });
      const slot = opts.output.openSlot('live');
      let voiceId = opts.voiceId;
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        frames.close();
        slot.fail();
      };
      opts.signal.addEventListener('abort', close, { once: true });
      return {
        get voiceId() {
          return voiceId;
        },
        push(frame) {
          if (!closed) slot.write(frames.push(frame.pcm));
        },
        flush() {
          if (closed) return;
          slot.write(frames.flush());
          slot.end();
        },
        setVoice(id) {
          voiceId = id;
          frames.setVoice(id);
        },
        close,
      };
    },
    close,
  };
}
