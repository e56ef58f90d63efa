/**
 * Two-party lines: edge cases around the REST API and refused streams, on loopback (the
 * bridge, the fake Twilio REST API, simulated legs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall } from '../../tools/sim/index.js';
import { registry } from '../../src/observability/metrics.js';
import { startFakeTwilioRest, twilioError, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { startLineBridge, type Bridge } from '../helpers/harness.js';

const LINE_BAD_AGENT = '+15005550600';
const BAD_AGENT = '+15005550699';

let fake: FakeTwilioRest;
let b: Bridge;

beforeAll(async () => {
  fake = await startFakeTwilioRest();
  // Twilio's own error text names the number it refused (error 21211).
  fake.on('POST', /\/Calls\.json$/, (req) =>
    req.form['To'] === BAD_AGENT ? twilioError(400, 21211, `The 'To' number ${BAD_AGENT} is not a valid phone number.`) : undefined,
  );
  b = await startLineBridge(fake, `lines:\n  "${LINE_BAD_AGENT}":\n    agents: ["${BAD_AGENT}"]\n    screen: false\n    maxWaitS: 3\n`);
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

describe('two-party lines: edges', () => {
  it('an agent call Twilio refuses is logged without the agent\'s phone number', async () => {
    const r = await simulateCall({
      url: b.url,
      webhookPath: '/twiml/line',
      authToken: fake.authToken,
      audio: new Uint8Array(0),
      realtime: false,
      tailMs: 10_000,
      form: { To: LINE_BAD_AGENT },
    });
    expect(r.closedBy).toBe('bridge'); // every agent failed, the caller waited maxWaitS: the no-answer message
    expect(b.logs.some((l) => l.msg === 'agent call could not be placed')).toBe(true);
    expect(b.rawLogs.join('\n')).not.toContain(BAD_AGENT.slice(2));
  });

  it('a refused stream (forged token, unknown mode) leaves the active-calls gauge where it was', async () => {
    const active = async () => Number((await registry.getMetricsAsJSON()).find((m) => m.name === 'voicemask_calls_active')?.values[0]?.value ?? 0);
    const before = await active();
    const forged: Array<Record<string, string>> = [{ mode: 'line', room: 'f'.repeat(32), role: 'agent', token: 'A'.repeat(43) }, { mode: 'bogus' }];
    for (const params of forged) {
      const r = await simulateCall({
        url: b.url,
        authToken: fake.authToken,
        audio: new Uint8Array(0),
        realtime: false,
        tailMs: 2000,
        startParameters: params,
      });
      expect(r.closedBy).toBe('bridge');
      expect(r.closeCode).toBe(1008);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(b.calls.activeCalls).toBe(0);
    expect(await active()).toBe(before);
  });
});
