/**
 * Two-party masked lines, end to end on loopback: the bridge (startServer with LINES_CONFIG,
 * embedded engine), the fake Twilio REST API the bridge dials and hangs up through, and two
 * simulated legs per call: the customer calls the line's number, the agent "answers" by
 * fetching the URL the bridge passed to calls.create, exactly as Twilio would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall, findLeakedFrames, isAudible, isInformativeFrame, parseStreamTwiml, twilioSignature, toFrames, type SimulatedCallOptions, type SimulatedCallResult } from '../../tools/sim/index.js';
import { WebSocket } from 'ws';
import { embeddedHoldMusic } from '../../src/voice/hold-music.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { postForm, startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';

const LINE = '+15005550100'; // mask: agent, one agent
const LINE_BOTH = '+15005550200'; // mask: both
const LINE_QUIET = '+15005550300'; // nobody answers: 5 s timeout
const LINE_SEQ = '+15005550400'; // two agents in turn, fallback TwiML
const LINE_SIM = '+15005550500'; // two agents at once
const LINE_CLOCK = '+15005550600'; // mask: both, its own agent
const LINE_APART = '+15005550700'; // two agents, two callers at once
const AGENT = '+15005550111';

let fake: FakeTwilioRest;
let b: Bridge;

beforeAll(async () => {
  fake = await startFakeTwilioRest();
  b = await startLineBridge(
    fake,
    `lines:
  "${LINE}":
    agents: ["${AGENT}"]
    screen: false
    voice: deep-male
    notice: This call is voice masked.
  "${LINE_BOTH}":
    agents: ["+15005550211"]
    screen: false
    mask: both
  "${LINE_QUIET}":
    agents: ["+15005550311"]
    screen: false
    ringTimeoutS: 5
    maxWaitS: 5
  "${LINE_SEQ}":
    agents: ["+15005550411", "sip:agent@pbx.example.com"]
    screen: false
    ring: sequential
    dialTimeoutS: 30
    maxWaitS: 6
    fallbackTwiml: "<Response><Say>Please leave a message.</Say><Record/></Response>"
  "${LINE_CLOCK}":
    agents: ["+15005550611"]
    screen: false
    mask: both
  "${LINE_APART}":
    agents: ["+15005550711", "+15005550712"]
    screen: false
  "${LINE_SIM}":
    agents: ["client:alice", "client:bob"]
    screen: false
    ring: simultaneous
`,
    {
      AGENT_DTMF_VOICE_CYCLE: 'true',
      WS_MAX_MESSAGES_PER_SEC: '5000', // the legs send their audio faster than real time
    },
  );
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

// ---------------------------------------------------------------- helpers

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Every 160-byte chunk of the embedded hold music: what waiting sounds like on the wire. */
const HOLD_FRAMES = new Set(toFrames(embeddedHoldMusic()).map((f) => Buffer.from(f).toString('base64')));
/** Audible frames the listener received that are not the hold tone. */
function voiceFrames(r: SimulatedCallResult): Uint8Array[] {
  return toFrames(r.receivedAudio).filter((f) => isAudible(f) && !HOLD_FRAMES.has(Buffer.from(f).toString('base64')));
}
function holdFrames(r: SimulatedCallResult): number {
  return toFrames(r.receivedAudio).filter((f) => isAudible(f) && HOLD_FRAMES.has(Buffer.from(f).toString('base64'))).length;
}

const restUpdates = (callSid: string) =>
  fake.requests.filter((q) => q.method === 'POST' && q.path.endsWith(`/Calls/${callSid}.json`)).map((q) => q.form);
const roomOf = (c: FakeCall) => new URL(c.url!).searchParams.get('room');
const pairedLog = (room: string) =>
  b.logs.some((l) => l.room === room.slice(0, 8) && l.msg === 'agent answered: call connected, agent voice masked');

/** A customer calling `line`. Its audio starts once `gate` resolves (default: at once). */
function callLine(line: string, o: Partial<SimulatedCallOptions> & { gate?: Promise<void> } = {}) {
  let room: string | undefined;
  const result = simulateCall({
    url: b.url,
    webhookPath: '/twiml/line',
    authToken: fake.authToken,
    audio: new Uint8Array(0),
    realtime: false,
    ...o,
    form: { To: line, ...o.form },
    onProgress: (e) => {
      if (e.type === 'webhook') room = e.parameters.room;
    },
    hooks: { afterStart: () => o.gate, ...o.hooks },
  });
  result.catch(() => {});
  return { result, room: () => waitFor('the customer webhook', () => room) };
}

/** The agent call the bridge placed for `room` to `to`. */
const dialFor = (room: string, to: string) =>
  waitFor(`a REST dial to ${to}`, () => fake.calls.find((c) => c.to === to && roomOf(c) === room));

/** The agent answers that call: Twilio fetches the agent TwiML from the URL given to calls.create. */
function answer(call: FakeCall, o: Partial<SimulatedCallOptions> = {}) {
  const u = new URL(call.url!);
  return simulateCall({
    url: b.url,
    webhookPath: u.pathname,
    query: Object.fromEntries(u.searchParams),
    form: { CallSid: call.sid, AccountSid: fake.accountSid, To: call.to, From: call.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
    authToken: fake.authToken,
    audio: new Uint8Array(0),
    realtime: false,
    ...o,
  });
}

/** A webhook POST signed as Twilio signs it. */
function postSigned(url: string, form: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(fake.authToken, url, form) },
    body: new URLSearchParams(form).toString(),
  });
}

/** A status callback for an agent call, as Twilio sends it. */
async function status(call: FakeCall, callStatus: string): Promise<number> {
  const url = `${b.url}/twiml/agent-status${new URL(call.url!).search}`;
  const res = await postSigned(url, { CallSid: call.sid, AccountSid: fake.accountSid, CallStatus: callStatus, To: call.to, From: call.from });
  return res.status;
}

const agentSpeech = loadClipMulaw('libri8230'); // 5.3 s, two phrases
const customerSpeech = loadClipMulaw('libri6829'); // 5.1 s

// ---------------------------------------------------------------- tests

describe('two-party masked line', () => {
  it.concurrent('the customer hears only the masked agent; the agent hears the customer as is; the agent hanging up ends the customer leg', async () => {
    const paired = deferred();
    const customer = callLine(LINE, { gate: paired.promise, audio: customerSpeech, tailMs: 20_000, dtmf: [{ digit: '7', atMs: 200 }] });
    const room = await customer.room();
    const dial = await dialFor(room, AGENT);
    expect(dial).toMatchObject({ from: LINE, to: AGENT });
    const createForm = fake.requests.find((q) => q.path.endsWith('/Calls.json') && q.form.Url === dial.url)!.form;
    expect(createForm.StatusCallback).toMatch(new RegExp(`^${b.url}/twiml/agent-status\\?room=${room}&token=`));
    expect(dial.url).toMatch(new RegExp(`^${b.url}/twiml/agent\\?room=${room}&token=`)); // this instance's own URL

    const agentP = answer(dial, { audio: agentSpeech, tailMs: 7000, dtmf: [{ digit: '*', atMs: 100 }] });
    await waitFor('pairing', () => pairedLog(room));
    paired.resolve();
    const [agent, cust] = await Promise.all([agentP, customer.result]);

    // Customer: the notice, ringback while dialling, then the agent's speech converted, never raw.
    expect(cust.twiml).toContain('<Say>This call is voice masked.</Say>');
    expect(cust.parameters).toMatchObject({ mode: 'line', role: 'customer', room });
    expect(holdFrames(cust)).toBeGreaterThan(0);
    expect(findLeakedFrames(agent.sentFrames, cust.receivedAudio)).toBe(0);
    const masked = voiceFrames(cust);
    expect(masked.length).toBeGreaterThan(150); // of ~230 frames of speech

    // Agent: the customer's speech, frame for frame (passthrough with mask: agent).
    const informative = cust.sentFrames.filter(isInformativeFrame).length;
    expect(informative).toBeGreaterThan(150);
    expect(findLeakedFrames(cust.sentFrames, agent.receivedAudio)).toBeGreaterThanOrEqual(informative * 0.95);

    // The agent hung up: the customer's leg is ended through REST and its stream closed.
    expect(agent.closedBy).toBe('simulator');
    expect(cust.closedBy).toBe('bridge');
    expect(cust.endedBy).toBe('bridge-closed');
    expect(restUpdates(cust.callSid)).toContainEqual({ Status: 'completed' });
    expect(restUpdates(agent.callSid)).toEqual([]);

    // DTMF: the agent's '*' changed the voice; the customer's key was ignored and not logged.
    expect(b.logs.some((l) => l.room === room.slice(0, 8) && l.msg === 'agent changed voice' && l.voice !== 'deep-male')).toBe(true);
    expect(b.logs.some((l) => l.msg === 'customer key press ignored' && l.callSid === cust.callSid)).toBe(true);
    expect(b.rawLogs.filter((l) => l.includes(cust.callSid)).some((l) => /"digit"/.test(l))).toBe(false);
  });

  it.concurrent('one clock per connection: the customer hears ringback, then a clear, then the masked agent; nothing is sent from an inbound handler', async () => {
    const paired = deferred();
    const customer = callLine(LINE_CLOCK, { gate: paired.promise, audio: customerSpeech, tailMs: 6000 });
    const room = await customer.room();
    const dial = await dialFor(room, '+15005550611');
    await sleep(1500); // the customer waits on hold
    const agentP = answer(dial, { audio: agentSpeech, tailMs: 9000 });
    await waitFor('pairing', () => pairedLog(room));
    paired.resolve();
    const [agent, cust] = await Promise.all([agentP, customer.result]);

    const isHold = (p: Uint8Array) => toFrames(p).some((f) => isAudible(f) && HOLD_FRAMES.has(Buffer.from(f).toString('base64')));
    const isVoice = (p: Uint8Array) => toFrames(p).some((f) => isAudible(f) && !HOLD_FRAMES.has(Buffer.from(f).toString('base64')));
    const lastHold = Math.max(...cust.received.filter((m) => isHold(m.payload)).map((m) => m.atMs));
    const firstVoice = Math.min(...cust.received.filter((m) => isVoice(m.payload)).map((m) => m.atMs));
    expect(Number.isFinite(lastHold)).toBe(true);
    expect(Number.isFinite(firstVoice)).toBe(true);
    // Ringback stopped with a clear sent by the same clock, before the agent's first masked word.
    expect(cust.clears.length).toBe(1);
    expect(lastHold).toBeLessThanOrEqual(cust.clears[0]!);
    expect(cust.clears[0]!).toBeLessThanOrEqual(firstVoice);
    expect(findLeakedFrames(agent.sentFrames, cust.receivedAudio)).toBe(0);
    // The connection never sent anything from inside an inbound message's handler.
    expect(b.logs.some((l) => /sent from an inbound handler/.test(String(l.msg)))).toBe(false);
  });

  it.concurrent('mask: both: the agent never hears the customer raw; the customer hanging up ends the agent leg', async () => {
    const paired = deferred();
    const customer = callLine(LINE_BOTH, { gate: paired.promise, audio: customerSpeech, tailMs: 2500 });
    const room = await customer.room();
    const dial = await dialFor(room, '+15005550211');
    const agentP = answer(dial, { audio: agentSpeech, tailMs: 20_000 });
    await waitFor('pairing', () => pairedLog(room));
    paired.resolve();
    const [agent, cust] = await Promise.all([agentP, customer.result]);

    expect(findLeakedFrames(cust.sentFrames, agent.receivedAudio)).toBe(0);
    expect(voiceFrames(agent).length).toBeGreaterThan(100); // the customer's speech, converted
    expect(findLeakedFrames(agent.sentFrames, cust.receivedAudio)).toBe(0);

    expect(cust.closedBy).toBe('simulator');
    expect(agent.closedBy).toBe('bridge');
    expect(agent.endedBy).toBe('bridge-closed');
    expect(restUpdates(agent.callSid)).toContainEqual({ Status: 'completed' });
    expect(restUpdates(cust.callSid)).toEqual([]);
  });

  it.concurrent('no agent within maxWaitS and no overflow line: the customer is switched to the no-answer message and the dial cancelled', async () => {
    const customer = callLine(LINE_QUIET, { tailMs: 20_000 });
    const room = await customer.room();
    const dial = await dialFor(room, '+15005550311');
    expect(fake.requests.find((q) => q.form.Url === dial.url)!.form.Timeout).toBe('5');
    const cust = await customer.result;
    expect(cust.durationMs).toBeGreaterThan(4500);
    expect(cust.durationMs).toBeLessThan(8000);
    expect(cust.closedBy).toBe('bridge');
    expect(holdFrames(cust)).toBeGreaterThan(50); // hold music while waiting
    expect(voiceFrames(cust)).toEqual([]);
    const update = restUpdates(cust.callSid);
    expect(update).toHaveLength(1);
    expect(update[0]!.Twiml).toMatch(/^<Response>\s*<Say>Sorry, no one is available[^<]*<\/Say>\s*<Hangup\/>\s*<\/Response>$/);
    expect(restUpdates(dial.sid)).toContainEqual({ Status: 'canceled' });
    // The agent picking up now is told the call is gone; no stream is offered.
    const late = await postSigned(dial.url!, { CallSid: dial.sid });
    expect(await late.text()).toMatch(/already been answered or has ended[\s\S]*<Hangup\/>/);
  });

  it.concurrent('sequential ring: busy moves to the next agent; when every agent failed the caller waits, then the line fallback TwiML plays at maxWaitS', async () => {
    const customer = callLine(LINE_SEQ, { tailMs: 20_000 });
    const room = await customer.room();
    const first = await dialFor(room, '+15005550411');
    await sleep(200);
    expect(fake.calls.filter((c) => roomOf(c) === room)).toHaveLength(1); // one at a time
    expect(await status(first, 'ringing')).toBe(204);
    expect(await status(first, 'busy')).toBe(204);
    const second = await dialFor(room, 'sip:agent@pbx.example.com');
    expect(second.from).toBe(LINE_SEQ);
    expect(await status(second, 'no-answer')).toBe(204);
    const cust = await customer.result;
    // Waiting in the queue (hold music) until maxWaitS, not dropped when the agents failed.
    expect(cust.durationMs).toBeGreaterThan(5500);
    expect(cust.durationMs).toBeLessThan(9000);
    expect(holdFrames(cust)).toBeGreaterThan(200);
    expect(restUpdates(cust.callSid)).toEqual([{ Twiml: '<Response><Say>Please leave a message.</Say><Record/></Response>' }]);
    expect(cust.closedBy).toBe('bridge');
  });

  it.concurrent('simultaneous ring: the first agent to answer wins, the other dial is cancelled and a late answer is turned away', async () => {
    const paired = deferred();
    const customer = callLine(LINE_SIM, { gate: paired.promise, tailMs: 2000 });
    const room = await customer.room();
    const [alice, bob] = await Promise.all([dialFor(room, 'client:alice'), dialFor(room, 'client:bob')]);
    const bobP = answer(bob, { tailMs: 20_000 });
    await waitFor('pairing', () => pairedLog(room));
    await waitFor('alice cancelled', () => restUpdates(alice.sid).some((f) => f.Status === 'canceled'));
    paired.resolve();
    await expect(answer(alice)).rejects.toMatchObject({ kind: 'bad-twiml' }); // agent-gone TwiML: no stream
    const [bobR, cust] = await Promise.all([bobP, customer.result]);
    expect(bobR.closedBy).toBe('bridge');
    expect(restUpdates(bob.sid)).toContainEqual({ Status: 'completed' });
    expect(restUpdates(cust.callSid)).toEqual([]);
  });

  it.concurrent('two concurrent rooms stay apart', async () => {
    const gates = [deferred(), deferred()];
    const custAudio = [customerSpeech, loadClipMulaw('p240')];
    // Agent 0 speaks; agent 1 stays silent: anything audible customer 1 hears (beyond the ringback) crossed rooms.
    const agentAudio = [agentSpeech, new Uint8Array(8000 * 5).fill(0xff)];
    const customers = [0, 1].map((i) => callLine(LINE_APART, { gate: gates[i]!.promise, audio: custAudio[i]!, tailMs: 20_000, form: { From: `+1500555070${i}` } }));
    const rooms = await Promise.all(customers.map((c) => c.room()));
    expect(rooms[0]).not.toBe(rooms[1]);
    // Each caller gets its own agent: one agent is never rung for two callers.
    const dials = await Promise.all(rooms.map((r) => waitFor('a dial', () => fake.calls.find((c) => roomOf(c) === r))));
    expect(new Set(dials.map((d) => d.to)).size).toBe(2);
    const agentsP = [0, 1].map((i) => answer(dials[i]!, { audio: agentAudio[i]!, tailMs: 7000 }));
    await Promise.all(rooms.map((r) => waitFor('pairing', () => pairedLog(r))));
    for (const g of gates) g.resolve();
    const agents = await Promise.all(agentsP);
    const custs = await Promise.all(customers.map((c) => c.result));

    expect(voiceFrames(custs[0]!).length).toBeGreaterThan(150);
    expect(voiceFrames(custs[1]!)).toEqual([]);
    for (const i of [0, 1]) {
      const j = 1 - i;
      for (const a of agents) expect(findLeakedFrames(a.sentFrames, custs[i]!.receivedAudio)).toBe(0);
      // Each agent hears its own customer, and nothing of the other one.
      expect(findLeakedFrames(custs[i]!.sentFrames, agents[i]!.receivedAudio)).toBeGreaterThan(150);
      expect(findLeakedFrames(custs[j]!.sentFrames, agents[i]!.receivedAudio)).toBe(0);
      expect(restUpdates(custs[i]!.callSid)).toContainEqual({ Status: 'completed' });
    }
  });

  it.concurrent('forged, misdirected or replayed tokens are refused', async () => {
    // A valid room with an agent's real stream token, issued for that agent's CallSid.
    const customer = callLine(LINE_QUIET, { tailMs: 4000 });
    const room = await customer.room();
    const dial = await dialFor(room, '+15005550311');
    const u = new URL(dial.url!);

    // The agent webhook with a token for another room, or no token: 403 before any TwiML.
    const other = 'f'.repeat(32);
    await expect(answer({ ...dial, url: `${u.origin}${u.pathname}?room=${other}&token=${u.searchParams.get('token')}` })).rejects.toMatchObject({ kind: 'webhook-status', status: 403 });
    await expect(answer({ ...dial, url: `${u.origin}${u.pathname}?room=${room}` })).rejects.toMatchObject({ kind: 'webhook-status', status: 403 });

    // Streams presenting forged or misdirected parameters are closed (1008) and join nothing.
    const tryStream = async (params: Record<string, string>, callSid?: string) => {
      const r = await simulateCall({
        url: b.url,
        webhookPath: '/twiml/inbound',
        authToken: fake.authToken,
        audio: agentSpeech.subarray(0, 8000),
        realtime: false,
        tailMs: 3000,
        ...(callSid ? { form: { CallSid: callSid } } : {}),
        startParameters: { mode: 'line', ...params },
      });
      expect(r.closedBy).toBe('bridge');
      expect(r.closeCode).toBe(1008);
      expect(r.receivedAudio.length).toBe(0);
      return r;
    };
    const agentTwiml = await postSigned(dial.url!, { CallSid: dial.sid }).then((r) => r.text());
    const realToken = /name="token" value="([^"]+)"/.exec(agentTwiml)![1]!;
    await tryStream({ room, role: 'agent', token: 'A'.repeat(43) }, dial.sid); // forged
    await tryStream({ room, role: 'agent', token: realToken }); // replayed by another call
    await tryStream({ room: other, role: 'agent', token: realToken }, dial.sid); // another room
    await tryStream({ room, role: 'customer', token: realToken }, dial.sid); // another role
    expect(b.logs.filter((l) => l.msg === 'line stream refused: missing, forged or misdirected room token').length).toBeGreaterThanOrEqual(4);

    // Unsigned webhooks are refused; an unknown number is answered politely and hung up.
    const unsigned = await fetch(`${b.url}/twiml/line`, { method: 'POST', body: new URLSearchParams({ To: LINE, CallSid: 'CA1' }) });
    expect(unsigned.status).toBe(403);
    const form = { To: '+15005559999', CallSid: `CA${'0'.repeat(32)}` };
    const unknown = await postSigned(`${b.url}/twiml/line`, form);
    expect(await unknown.text()).toMatch(/not in service[\s\S]*<Hangup\/>/);
    // The room the forgeries aimed at was untouched: still waiting for an agent.
    expect(pairedLog(room)).toBe(false);
    // The customer hanging up while the agent still rings cancels the dial.
    const cust = await customer.result;
    expect(cust.closedBy).toBe('simulator');
    await waitFor('the dial cancelled', () => restUpdates(dial.sid).some((f) => f.Status === 'canceled'));
  });

  it.concurrent('behind a load balancer, every URL handed to Twilio names this instance (INSTANCE_URL)', async () => {
    const vm = await startLineBridge(
      fake,
      JSON.stringify({ lines: { '+15005550900': { agents: ['client:carol'], dialTimeoutS: 5, screen: false } } }),
      // The balancer is on loopback here: its X-Forwarded-Proto is believed.
      { INSTANCE_URL: 'https://vm-7.voice.example.com', TRUST_PROXY: 'loopback' },
      'lines.json',
    );
    try {
      // Twilio posts the customer's webhook to the load balancer's address and signs that URL.
      const lb = 'https://line.voice.example.com';
      const form = { To: '+15005550900', From: '+15005550006', CallSid: `CA${'1'.repeat(32)}` };
      const { status: code, body } = await postForm(
        `${vm.url}/twiml/line`,
        { host: 'line.voice.example.com', 'x-forwarded-proto': 'https', 'x-twilio-signature': twilioSignature(fake.authToken, `${lb}/twiml/line`, form) },
        form,
      );
      expect(code).toBe(200);
      expect(body).toMatch(/<Stream url="wss:\/\/vm-7\.voice\.example\.com\/media\/[^"]+" name="customer">/);
      // Twilio opens the stream to the instance itself (and signs that wss:// URL, its token included).
      const { parameters: params, url: streamUrl } = parseStreamTwiml(body);
      const path = new URL(streamUrl).pathname;
      const ws = new WebSocket(`${vm.url.replace(/^http/, 'ws')}${path}`, {
        headers: {
          host: 'vm-7.voice.example.com',
          'x-forwarded-proto': 'https',
          'x-twilio-signature': twilioSignature(fake.authToken, `wss://vm-7.voice.example.com${path}`, {}),
        },
      });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const streamSid = `MZ${'2'.repeat(32)}`;
      ws.send(JSON.stringify({ event: 'connected', protocol: 'Call', version: '1.0.0' }));
      ws.send(
        JSON.stringify({
          event: 'start',
          streamSid,
          start: { streamSid, callSid: form.CallSid, tracks: ['inbound'], customParameters: params, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
        }),
      );
      const dial = await waitFor('the dial', () => fake.calls.find((c) => c.to === 'client:carol'));
      ws.close();
      expect(dial.url).toMatch(/^https:\/\/vm-7\.voice\.example\.com\/twiml\/agent\?room=[0-9a-f]{32}&token=/);
      expect(fake.requests.find((q) => q.form.Url === dial.url)!.form.StatusCallback).toMatch(/^https:\/\/vm-7\.voice\.example\.com\/twiml\/agent-status\?/);
    } finally {
      await vm.close();
    }
  });
});
