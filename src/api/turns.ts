/**
 * One step of compatible-API work per turn of the event loop, however many conversions run.
 * Each conversion hands the loop back between steps (a few ms of decoding, masking or
 * encoding each); with plain setImmediate, N conversions would run N steps back to back before
 * timers and sockets were served again, so live calls' 20 ms pacing would suffer with every
 * extra upload. Here the waiting steps form one queue and a single setImmediate releases one of
 * them per loop iteration: calls wait at most one step, conversions share the rest fairly.
 */
const waiting: Array<() => void> = [];
let scheduled = false;

function release(): void {
  scheduled = false;
  waiting.shift()?.();
  if (waiting.length > 0) {
    scheduled = true;
    setImmediate(release);
  }
}

/** Resolves when it is this step's turn (at the earliest, the next loop iteration). */
export function apiTurn(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!scheduled) {
      scheduled = true;
      setImmediate(release);
    }
  });
}
