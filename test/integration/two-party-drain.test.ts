/**
 * A rolling deploy: the instance starts draining while a two-party room is still dialling its
 * agent. New calls are turned away, but the agent who answers still joins the room (its stream
 * is admitted: it joins a call already in progress here), the call completes, and the drain
 * finishes once it has.
 */
import { describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames, twilioSignature } from '../../tools/sim/index.js';
import { startFakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startLineBridge } from '../helpers/harness.js';

const LINE = '+15005550700';
const AGENT = '+15005550711';

describe('two-party line during a drain', () => {
  it('an agent answering after SIGTERM still joins the dialling room; new calls are refused', async () => {
    const fake = await startFakeTwilioRest();
    const b = await startLineBridge(fake, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    screen: false\n`, { WS_MAX_MESSAGES_PER_SEC: '5000' });
    try {
      const customer = simulateCall({
        url: b.url,
        webhookPath: '/twiml/line',
        authToken: fake.authToken,
        audio: new Uint8Array(0),
        realtime: false,
        tailMs: 20_000,
        form: { To: LINE },
      });
      customer.catch(() => {});
      const dial = await fake.whenCall((c) => c.to === AGENT);
      expect(dial.url).toBeDefined();

      const drained = b.shutdown(30_000); // stops accepting at once
      expect((await fetch(`${b.url}/readyz`)).status).toBe(503);
      await expect(simulateCall({ url: b.url, authToken: fake.authToken, audio: new Uint8Array(160).fill(0xff), realtime: false, tailMs: 0 })).rejects.toThrow(/503/);

      // A new customer on the line is told to call back (line-busy.xml), no room is created.
      const lineUrl = `${b.url}/twiml/line`;
      const form = { CallSid: 'CA' + '9'.repeat(32), AccountSid: fake.accountSid, To: LINE, From: '+15005550999' };
      const busy = await fetch(lineUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(fake.authToken, lineUrl, form) },
        body: new URLSearchParams(form).toString(),
      });
      const busyTwiml = await busy.text();
      expect(busyTwiml).toMatch(/cannot take your call right now/);
      expect(busyTwiml).not.toContain('<Stream');

      const u = new URL(dial!.url!);
      const agentSpeech = loadClipMulaw('libri8230');
      const agent = await simulateCall({
        url: b.url,
        webhookPath: u.pathname,
        query: Object.fromEntries(u.searchParams),
        form: { CallSid: dial!.sid, AccountSid: fake.accountSid, To: AGENT, From: LINE, Direction: 'outbound-api', CallStatus: 'in-progress' },
        authToken: fake.authToken,
        audio: agentSpeech,
        realtime: false,
        tailMs: 3000,
      });
      expect(agent.closedBy).toBe('simulator'); // the agent's stream was admitted and served
      const c = await customer;
      expect(b.logs.some((l) => l.msg === 'agent answered: call connected, agent voice masked')).toBe(true);
      expect(findLeakedFrames(agent.sentFrames, c.receivedAudio)).toBe(0);
      // The agent hung up: the customer leg was completed, the room ended, the drain finished.
      expect(c.closedBy).toBe('bridge');
      expect(await drained).toEqual({ remaining: 0 });
    } finally {
      await b.close();
      await fake.close();
    }
  });
});
