import { describe, expect, it } from 'vitest';
import type { DemoResult } from '../../../../tools/demo/run-demo.js';
import { formatDemoReport } from '../../../../tools/demo/text-report.js';

function result(protocolErrors: string[]): DemoResult {
  return {
    sample: '/d/in.wav',
    files: { original: '/d/o.wav', masked: '/d/m.wav', report: '/d/r.html' },
    engine: 'local',
    engineLabel: 'Embedded (offline)',
    mode: 'streaming',
    voice: { id: 'deep-male', name: 'Deep male', description: 'x' },
    realtime: true,
    phrases: [{ index: 0, startMs: 0, stoppedAtMs: 1000, firstHeardAtMs: 1100, latencyMs: 100 }],
    summary: { phrases: 1, answered: 1, missed: 0, p50Ms: 100, p95Ms: 100, maxMs: 100, meanMs: 100 },
    leakedFrames: 0,
    informativeFrames: 50,
    originalMs: 1000,
    callMs: 1500,
    input: new Uint8Array(0),
    heard: new Uint8Array(0),
    bridgeWarnings: [],
    call: { protocolErrors } as DemoResult['call'],
  };
}

describe('demo console report', () => {
  it('tells protocol errors (messages Twilio would reject), and says nothing when there are none', () => {
    expect(formatDemoReport(result([]), '/d')).not.toMatch(/protocol/);
    const text = formatDemoReport(result(['media: payload is not valid base64', 'mark: missing mark.name']), '/d');
    expect(text).toMatch(/protocol +2 ERRORS .*media: payload is not valid base64/);
  });
});
