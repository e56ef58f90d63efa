/** The simulator against the real bridge (local masking engine), signed, with a fixture clip. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../../src/config/env.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { startServer, type RunningServer } from '../../../../src/compose.js';
import { findLeakedFrames, simulateCall, summarizeLatencies } from '../../../../tools/sim/index.js';
import { CLIPS, loadClipMulaw } from '../../../../tools/clips.js';

const TOKEN = 'sim-real-server-token';
let server: RunningServer;

beforeAll(async () => {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', CONVERTER: 'local', TWILIO_AUTH_TOKEN: TOKEN });
  server = await startServer(config, { logger: createLogger('silent') });
});
afterAll(() => server?.close());

describe('simulateCall against the real bridge', () => {
  it('gets masked audio back for each phrase, with no protocol errors and no leaked caller audio', async () => {
    const audio = loadClipMulaw('p260');
    const r = await simulateCall({
      url: server.url,
      authToken: TOKEN,
      audio,
      realtime: false,
      tailMs: 4000,
      endWhenIdleMs: 1500,
      phrases: CLIPS['p260']!.phrases.map(([a, b]) => ({ startMs: a * 1000, endMs: b * 1000 })),
    });
    expect(['idle', 'completed']).toContain(r.endedBy); // not cut off by the bridge's flood limit
    expect(r.webhookStatus).toBe(200);
    expect(r.protocolErrors).toEqual([]);
    expect(r.received.length).toBeGreaterThan(0);
    expect(r.heard.some((b) => b !== 0xff && b !== 0x7f)).toBe(true);
    expect(findLeakedFrames(r.sentFrames, r.receivedAudio)).toBe(0);
    const sum = summarizeLatencies(r.phrases);
    expect(sum.answered).toBe(2);
    expect(r.closeCode).toBeDefined();
  });

  it('is refused by the bridge when the signature is wrong', async () => {
    await expect(simulateCall({ url: server.url, authToken: 'wrong', audio: new Uint8Array(160), realtime: false, tailMs: 0 })).rejects.toMatchObject({
      kind: 'webhook-status',
      status: 403,
    });
  });
});
