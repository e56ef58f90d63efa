/**
 * An unexpected error inside one call ends that call only: the call manager's guard closes
 * it (1011) and every other call carries on. The failing call type is registered through the
 * server's extension point, the same way two-party lines plug in.
 */
import { describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames } from '../../tools/sim/index.js';
import { metrics } from '../../src/observability/metrics.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge } from '../helpers/harness.js';

describe('call isolation', () => {
  it('a call whose handler throws is ended alone; a concurrent call is unaffected', async () => {
    const b = await startBridge(
      {},
      {
        extend: () => ({
          routes: {
            explode: () => ({
              onMedia: () => {
                throw new Error('boom inside one call');
              },
              onDtmf: () => {},
              close: () => {},
            }),
          },
        }),
      },
    );
    try {
      const before = (await metrics.callErrors.get()).values.find((v) => v.labels.stage === 'media')?.value ?? 0;
      const healthy = simulateCall({ url: b.url, audio: loadClipMulaw('p240'), realtime: true, tailMs: 1000 });
      // A stream whose start parameters select the failing call type.
      const raw = await simulateCall({
        url: b.url,
        audio: loadClipMulaw('p240'),
        realtime: false,
        tailMs: 500,
        startParameters: { mode: 'explode' },
      });
      expect(raw.closedBy).toBe('bridge');
      expect(raw.closeCode).toBe(1011);
      const h = await healthy;
      expect(h.closedBy).toBe('simulator');
      expect(h.receivedAudio.filter((x) => x !== 0xff).length).toBeGreaterThan(8000);
      expect(findLeakedFrames(h.sentFrames, h.receivedAudio)).toBe(0);
      const after = (await metrics.callErrors.get()).values.find((v) => v.labels.stage === 'media')?.value ?? 0;
      expect(after).toBeGreaterThan(before);
      expect(b.logs.some((l) => /unexpected error in this call/.test(String(l.msg)))).toBe(true);
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    } finally {
      await b.close();
    }
  });
});
