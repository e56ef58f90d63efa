/**
 * The legs of a contact-line call, driven as Twilio would drive them against a bridge and the
 * fake Twilio REST API: a caller on a line's number, and an agent who answers a call the bridge
 * placed (the agent webhook: the whisper and <Gather>) and presses 1 (the <Gather>'s action),
 * whose stream then runs.
 */
import { expect } from 'vitest';
import { simulateCall, twilioSignature, type SimulatedCallOptions } from '../../tools/sim/index.js';
import type { FakeCall, FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { waitFor } from './harness.js';

export const roomOf = (c: FakeCall): string | null => new URL(c.url!).searchParams.get('room');

/** `on()` names the bridge and the fake Twilio to drive (read when a leg starts). */
export function lineLegs(on: () => { url: string; fake: FakeTwilioRest }) {
  const bridgeUrl = () => on().url;
  const twilio = () => on().fake;
  const postSigned = (url: string, form: Record<string, string>): Promise<Response> =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(twilio().authToken, url, form) },
      body: new URLSearchParams(form).toString(),
    });

  /** A caller on `line`; `room()` resolves with the room the webhook opened. */
  const callLine = (line: string, o: Partial<SimulatedCallOptions> = {}) => {
    let room: string | undefined;
    const result = simulateCall({
      url: bridgeUrl(),
      webhookPath: '/twiml/line',
      authToken: twilio().authToken,
      audio: new Uint8Array(0),
      realtime: true,
      ...o,
      form: { To: line, ...o.form },
      onProgress: (e) => {
        if (e.type === 'webhook') room = e.parameters.room;
        o.onProgress?.(e);
      },
    });
    result.catch(() => {});
    return { result, room: () => waitFor('the customer webhook', () => room) };
  };

  /** Twilio answered the agent call: the agent webhook's TwiML (the whisper and Gather). */
  const agentTwiml = async (call: FakeCall): Promise<string> => {
    const form = { CallSid: call.sid, AccountSid: twilio().accountSid, To: call.to, From: call.from, CallStatus: 'in-progress', Direction: 'outbound-api' };
    return (await postSigned(call.url!, form)).text();
  };

  /** The agent presses 1: the Gather's action answers with the agent's stream, which then runs. */
  const pressOne = async (call: FakeCall, o: Partial<SimulatedCallOptions> = {}) => {
    const twiml = await agentTwiml(call);
    const action = /<Gather[^>]*action="([^"]+)"/.exec(twiml)?.[1]?.replace(/&amp;/g, '&');
    expect(action, twiml).toBeDefined();
    const u = new URL(action!);
    return simulateCall({
      url: u.origin,
      webhookPath: u.pathname,
      query: Object.fromEntries(u.searchParams),
      form: { CallSid: call.sid, AccountSid: twilio().accountSid, To: call.to, From: call.from, Direction: 'outbound-api', CallStatus: 'in-progress', Digits: '1' },
      authToken: twilio().authToken,
      audio: new Uint8Array(0),
      realtime: true,
      ...o,
    });
  };

  /** A status callback for an agent call, as Twilio sends it. */
  const status = async (call: FakeCall, callStatus: string): Promise<void> => {
    const u = new URL(call.url!);
    const url = `${u.origin}/twiml/agent-status${u.search}`;
    await postSigned(url, { CallSid: call.sid, AccountSid: twilio().accountSid, CallStatus: callStatus, To: call.to, From: call.from });
  };

  return { postSigned, callLine, agentTwiml, pressOne, status };
}
