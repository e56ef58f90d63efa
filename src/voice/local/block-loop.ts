/**
 * The engine's one loop over audio that is too long to mask in one step (a call's phrase, a
 * recording sent to the compatible API): the input cut into 200 ms blocks, each masked and its
 * final output yielded at once, the event loop handed back between blocks (a block is about
 * 2 ms of work, so a long input never holds up other calls' 20 ms pacing) and the signal
 * checked after each; then the masker's tail. Joined, the output is aligned with the input and
 * exactly as long.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PHRASE_BLOCK, type BlockMasker } from './processor.js';
import { engineWorked } from './load.js';

/** Input still arriving: what is there now, then the rest as it comes. */
export interface ArrivingPcm {
  head: Int16Array;
  rest: AsyncIterable<Int16Array>;
}

export interface BlockLoopOptions {
  /** Checked after every block: the loop stops, throwing its reason. */
  signal?: AbortSignal;
  /**
   * How the event loop is handed back between blocks (default: the next turn of the event
   * loop). The compatible API passes its queue, which lets one step of all its conversions run
   * per turn.
   */
  turn?: () => Promise<void>;
}

/** A chunk cut into masking blocks. */
function* blocks(x: Int16Array): Generator<Int16Array> {
  for (let o = 0; o < x.length; o += PHRASE_BLOCK) yield x.subarray(o, Math.min(x.length, o + PHRASE_BLOCK));
}

async function* arriving(input: Int16Array | ArrivingPcm): AsyncGenerator<Int16Array> {
  if (input instanceof Int16Array) return yield* blocks(input);
  yield* blocks(input.head);
  for await (const x of input.rest) yield* blocks(x);
}

/**
 * Masks the input block by block with `masker` (destroyed at the end, also when the caller
 * stops early), yielding the output that became final (never an empty chunk). Errors of the
 * arriving input are thrown as they are.
 */
export async function* maskInBlocks(masker: BlockMasker, input: Int16Array | ArrivingPcm, opts: BlockLoopOptions = {}): AsyncGenerator<Int16Array, void, undefined> {
  const turn = opts.turn ?? (() => nextTurn());
  try {
    opts.signal?.throwIfAborted();
    for await (const block of arriving(input)) {
      const t0 = performance.now();
      const y = masker.push(block);
      engineWorked(t0);
      if (y.length > 0) yield y;
      await turn();
      opts.signal?.throwIfAborted();
    }
    const t0 = performance.now();
    const tail = masker.finish();
    engineWorked(t0);
    for (const y of tail) if (y.length > 0) yield y;
  } finally {
    masker.destroy();
  }
}
