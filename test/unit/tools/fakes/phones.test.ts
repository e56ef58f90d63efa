/**
 * The fake REST API's phones, driven through the twilio package against a minimal TwiML app
 * (test/helpers/twiml-app.ts), not the product: what Twilio would request, send and stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type twilio from 'twilio';
import { startFakeTwilioRest, type FakeTwilioRest, type PhoneCall, type PhoneEvent } from '../../../../tools/fakes/fake-twilio-rest.js';
import { createTwilioRestClient } from '../../../../src/twilio/rest.js';
import { loadClipMulaw } from '../../../../tools/clips.js';
import { startTwimlApp, type AppStream, type TwimlApp } from '../../../helpers/twiml-app.js';

const FROM = '+15005550006';
const speech = loadClipMulaw('p240').subarray(0, 4000); // 0.5 s
const greeting = new Uint8Array(3200).fill(0x22); // 0.4 s "Leave a message"
const callerPhrase = new Uint8Array(4000).fill(0x33); // what the caller says into the stream

let fake: FakeTwilioRest;
let app: TwimlApp;
let client: twilio.Twilio;
let streamTwiml: string;

beforeAll(async () => {
  fake = await startFakeTwilioRest({
    phones: {
      '+15550000001': { kind: 'person', answerAfterMs: 200, digits: '1', pressAfterMs: 300, audio: speech, hangUpAfterMs: 2500 },
      '+15550000002': { kind: 'voicemail', greeting, maxMessageMs: 2500 },
      '+15550000003': { kind: 'busy' },
      '+15550000004': { kind: 'no-answer' },
      'sip:agent@pbx.example.com': { kind: 'person', answerAfterMs: 3000 },
      'client:alice': { kind: 'person', answerAfterMs: 0 },
      '+15550000007': { kind: 'person', answerAfterMs: 0 },
      '+15550000008': { kind: 'callWaiting', answerAfterMs: 0 },
      '+15550000009': { kind: 'unreachable' },
      '+15550000010': { kind: 'person', answerAfterMs: 0, hangUpOnStreamEnd: true },
      '+15550000011': { kind: 'person', answerAfterMs: 0, streamDtmf: [{ digit: '*', atMs: 200 }] },
    },
    phoneOptions: { sayMsPerChar: 10 },
  });
  app = await startTwimlApp(fake.authToken, fake.now);
  client = createTwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url });
  app.route('/say-hi', '<Response><Say>Hi</Say></Response>');
  streamTwiml = `<Response><Connect><Stream url="${app.wsUrl}/media"><Parameter name="room" value="r1"/></Stream></Connect><Say>After the stream</Say></Response>`;
  app.route('/stream', streamTwiml);
});
afterAll(async () => {
  await fake?.close();
  await app?.close();
});

const dial = (to: string, o: { path?: string; events?: string[]; timeout?: number; query?: string; machineDetection?: string } = {}) =>
  client.calls.create({
    to,
    from: FROM,
    url: `${app.url}${o.path ?? '/say-hi'}`,
    statusCallback: `${app.url}/status/${encodeURIComponent(to)}${o.query ?? ''}`,
    ...(o.events ? { statusCallbackEvent: o.events } : {}),
    ...(o.timeout ? { timeout: o.timeout } : {}),
    ...(o.machineDetection ? { machineDetection: o.machineDetection } : {}),
  });
/** The phone's call for a REST-created call sid. */
const phoneCall = async (to: string, sid: string): Promise<PhoneCall> => {
  for (let n = 0; ; n++) {
    const c = await fake.phone(to).whenCall(n);
    if (c.sid === sid) return c;
  }
};
const types = (c: PhoneCall, only?: Array<PhoneEvent['type']>) => c.timeline.map((e) => e.type).filter((t) => !only || only.includes(t));
const statuses = (c: PhoneCall) => c.callbacks.map((r) => r.params['CallStatus']);
const appRequests = (sid: string) => app.requests.filter((r) => r.params['CallSid'] === sid);
const streamOf = (sid: string): Promise<AppStream> =>
  new Promise((resolve) => {
    const check = () => {
      const s = app.streams.find((x) => x.messages.some((m) => (m.m['start'] as { callSid?: string } | undefined)?.callSid === sid));
      if (s) return resolve(s);
      setTimeout(check, 10);
    };
    check();
  });

describe('fake phones behind the REST API', () => {
  it('a person answers, presses 1 at a Gather, streams speech, echoes marks, honours clear, hangs up', async () => {
    app.route('/menu', '<Response><Gather numDigits="1" action="/pressed" timeout="3"><Say>Press one to take the call</Say></Gather><Say>We did not get that</Say><Hangup/></Response>');
    app.route('/pressed', (p) => (p['Digits'] === '1' ? streamTwiml : '<Response><Hangup/></Response>'));
    const played = new Uint8Array(3200).fill(0x10); // 0.4 s the app plays to the person
    app.onStream = (s) => {
      s.media(played);
      s.mark('m1');
      setTimeout(() => {
        s.media(new Uint8Array(8000).fill(0x11)); // 1 s, cut by the clear
        s.mark('m2');
        s.clear();
      }, 600);
    };
    const created = await dial('+15550000001', { path: '/menu' });
    expect(created.status).toBe('queued');
    const c = await phoneCall('+15550000001', created.sid);
    const s = await streamOf(created.sid);
    const start = (await s.started)['start'] as Record<string, unknown>;
    expect(await c.ended).toBe('completed');
    await s.closed;

    // TwiML requests: the Url, then the Gather action with Digits=1, both signed, with the call's parameters.
    const reqs = appRequests(created.sid).filter((r) => !r.path.startsWith('/status'));
    expect(reqs.map((r) => [r.path, r.params['Digits']])).toEqual([['/menu', undefined], ['/pressed', '1']]);
    expect(reqs.every((r) => r.signatureOk)).toBe(true);
    expect(reqs[0]!.params).toMatchObject({ CallSid: created.sid, AccountSid: fake.accountSid, From: FROM, To: '+15550000001', CallStatus: 'in-progress', Direction: 'outbound-api' });
    expect(c.events('say').map((e) => e.detail?.['text'])).toEqual(['Press one to take the call']); // barged in; never the fallback

    // The stream: signed upgrade, start with the <Parameter>s and the call's SIDs, the person's speech first.
    expect(s.signatureOk).toBe(true);
    expect(start).toMatchObject({ callSid: created.sid, accountSid: fake.accountSid, customParameters: { room: 'r1' } });
    const media = s.messages.filter((m) => m.m['event'] === 'media').map((m) => Buffer.from(String((m.m['media'] as { payload: string }).payload), 'base64'));
    expect(media.length).toBeGreaterThan(50); // 20 ms frames in real time for ~1.8 s
    expect(media.every((f) => f.length === 160)).toBe(true);
    expect(Buffer.concat(media).subarray(0, speech.length).equals(Buffer.from(speech))).toBe(true);
    expect(Buffer.concat(media).subarray(speech.length).every((b) => b === 0xff)).toBe(true); // then silence

    // Marks: m1 once its 0.4 s played; m2 at once when cleared. The cleared audio never played.
    const m1 = await s.when((m) => m['event'] === 'mark' && (m['mark'] as { name: string }).name === 'm1');
    await s.when((m) => m['event'] === 'mark' && (m['mark'] as { name: string }).name === 'm2');
    const opened = c.streams[0]!.openedAt;
    expect(m1.at - opened).toBeGreaterThanOrEqual(380);
    expect(m1.at - opened).toBeLessThan(900);
    expect(c.streams[0]!.marks.map((m) => [m.name, m.cleared])).toEqual([['m1', false], ['m2', true]]);
    const heard = c.streams[0]!.heard;
    expect(heard.filter((b) => b === 0x10).length).toBe(3200);
    expect(heard.filter((b) => b === 0x11).length).toBeLessThan(400); // at most the few ms before the clear
    expect(c.streams[0]!.received.length).toBe(2);

    // The person hung up: Twilio sent stop, then closed; the TwiML after <Connect> never ran.
    expect(s.messages.at(-1)!.m['event']).toBe('stop');
    expect(c.streams[0]!.closedBy).toBe('twilio');
    expect(types(c, ['created', 'ringing', 'answered', 'gather', 'digits', 'stream-open', 'hangup', 'stream-close', 'completed'])).toEqual([
      'created', 'ringing', 'answered', 'gather', 'digits', 'stream-open', 'hangup', 'stream-close', 'completed',
    ]);
    expect(c.events('hangup')[0]!.detail).toEqual({ by: 'phone' });
    expect(c.at('answered')! - c.at('ringing')!).toBeGreaterThanOrEqual(190);
    expect(statuses(c)).toEqual(['completed']); // no StatusCallbackEvent: only the final one
  });

  it('a voicemail answers at once, never presses a key, plays its greeting, records what it heard, hangs up at its limit', async () => {
    app.route('/vm', `<Response><Gather numDigits="1" action="/pressed-vm" timeout="1"><Say>Press 1</Say></Gather><Connect><Stream url="${app.wsUrl}/media"/></Connect></Response>`);
    app.onStream = (s) => s.media(callerPhrase);
    const created = await dial('+15550000002', { path: '/vm' });
    const c = await phoneCall('+15550000002', created.sid);
    const s = await streamOf(created.sid);
    expect(await c.ended).toBe('completed');
    await s.closed;
    expect(appRequests(created.sid).map((r) => r.path)).not.toContain('/pressed-vm');
    expect(types(c)).not.toContain('digits');
    expect(c.events('gather-timeout')).toHaveLength(1);
    expect(c.at('answered')! - c.at('ringing')!).toBeLessThan(50);
    const media = Buffer.concat(s.messages.filter((m) => m.m['event'] === 'media').map((m) => Buffer.from(String((m.m['media'] as { payload: string }).payload), 'base64')));
    expect(media.subarray(0, greeting.length).equals(Buffer.from(greeting))).toBe(true);
    expect(s.messages.some((m) => m.m['event'] === 'dtmf')).toBe(false);
    expect(c.streams[0]!.heard.filter((b) => b === 0x33).length).toBe(callerPhrase.length);
    expect(c.events('hangup')[0]!.detail).toEqual({ by: 'phone', why: 'message time limit' });
    expect(c.at('completed')! - c.at('answered')!).toBeGreaterThanOrEqual(2450);
  });

  it('a Gather with no input goes to its action with empty Digits only when actionOnEmptyResult="true"', async () => {
    app.route('/empty', '<Response><Gather timeout="1" action="/empty-action" actionOnEmptyResult="true"/><Say>Not reached</Say></Response>');
    app.route('/empty-action', '<Response><Hangup/></Response>');
    const created = await dial('client:alice', { path: '/empty' });
    const c = await phoneCall('client:alice', created.sid);
    expect(await c.ended).toBe('completed');
    const action = appRequests(created.sid).find((r) => r.path === '/empty-action');
    expect(action?.params['Digits']).toBe('');
    expect(action?.signatureOk).toBe(true);
    expect(types(c)).not.toContain('say');
  });

  it('busy and unreachable end at once, with only the final status callback by default', async () => {
    const busy = await dial('+15550000003');
    const failed = await dial('+15550000009');
    const b = await phoneCall('+15550000003', busy.sid);
    const f = await phoneCall('+15550000009', failed.sid);
    expect(await b.ended).toBe('busy');
    expect(await f.ended).toBe('failed');
    expect(statuses(b)).toEqual(['busy']);
    expect(statuses(f)).toEqual(['failed']);
    expect(b.webhooks).toEqual([]);
    expect(types(b)).not.toContain('ringing');
    const cb = appRequests(busy.sid);
    expect(cb).toHaveLength(1);
    expect(cb[0]).toMatchObject({ path: '/status/%2B15550000003', signatureOk: true });
    expect(cb[0]!.params).toMatchObject({ CallStatus: 'busy', CallSid: busy.sid, To: '+15550000003', From: FROM, CallbackSource: 'call-progress-events' });
    expect((await client.calls(busy.sid).fetch()).status).toBe('busy');
  });

  it('no-answer rings until the call Timeout; a person slower than the Timeout is no-answer too', async () => {
    const created = await dial('+15550000004', { timeout: 1, events: ['ringing', 'completed'] });
    const slow = await dial('sip:agent@pbx.example.com', { timeout: 1 });
    const c = await phoneCall('+15550000004', created.sid);
    const sc = await phoneCall('sip:agent@pbx.example.com', slow.sid);
    expect(await c.ended).toBe('no-answer');
    expect(await sc.ended).toBe('no-answer');
    expect(statuses(c)).toEqual(['ringing', 'no-answer']);
    const rang = c.at('no-answer')! - c.at('ringing')!;
    expect(rang).toBeGreaterThanOrEqual(990);
    expect(rang).toBeLessThan(1600);
    expect(types(sc)).not.toContain('answered');
    expect(sc.webhooks).toEqual([]);
  });

  it('status callbacks go only for the events asked for (answered is CallStatus=in-progress), the final one always', async () => {
    const answered = await dial('+15550000007', { events: ['answered'] });
    const a = await phoneCall('+15550000007', answered.sid);
    expect(await a.ended).toBe('completed');
    const all = await dial('+15550000007', { events: ['initiated', 'ringing', 'answered', 'completed'] });
    const b = await phoneCall('+15550000007', all.sid);
    expect(await b.ended).toBe('completed');
    expect(statuses(a)).toEqual(['in-progress', 'completed']);
    expect(statuses(b)).toEqual(['initiated', 'ringing', 'in-progress', 'completed']);
    expect(b.callbacks.map((r) => r.params['SequenceNumber'])).toEqual(['0', '1', '2', '3']);
    expect(b.callbacks.at(-1)!.params['CallDuration']).toBe('0');
    expect(appRequests(all.sid).filter((r) => r.path.startsWith('/status')).every((r) => r.signatureOk)).toBe(true);
    expect(a.events('say')[0]!.detail).toEqual({ text: 'Hi' });
    expect(a.events('hangup')[0]!.detail).toEqual({ by: 'twiml', why: 'end of TwiML' });
  });

  it('Status=canceled stops a ringing call; on a call in progress it does nothing, Status=completed ends it', async () => {
    const ringing = await dial('sip:agent@pbx.example.com', { events: ['ringing'] });
    const r = await phoneCall('sip:agent@pbx.example.com', ringing.sid);
    await r.when('ringing');
    expect((await client.calls(ringing.sid).update({ status: 'canceled' })).status).toBe('canceled');
    expect(await r.ended).toBe('canceled');
    expect(statuses(r)).toEqual(['ringing', 'canceled']);
    expect(r.webhooks).toEqual([]);

    app.onStream = () => {};
    const live = await dial('+15550000007', { path: '/stream' });
    const l = await phoneCall('+15550000007', live.sid);
    await l.when('stream-open');
    expect((await client.calls(live.sid).update({ status: 'canceled' })).status).toBe('in-progress');
    expect(l.status).toBe('in-progress');
    const s = await streamOf(live.sid);
    await client.calls(live.sid).update({ status: 'completed' });
    expect(await l.ended).toBe('completed');
    await s.closed;
    // Hung up through REST: the stream was stopped (stop, then close) after the request and before the final status.
    expect(s.messages.at(-1)!.m['event']).toBe('stop');
    expect(l.streams[0]!.closedBy).toBe('twilio');
    expect(types(l, ['rest-update', 'hangup', 'stream-close', 'completed'])).toEqual(['rest-update', 'rest-update', 'hangup', 'stream-close', 'completed']);
    expect(l.events('hangup')[0]!.detail).toEqual({ by: 'rest' });
    expect(types(l)).not.toContain('say'); // the TwiML after <Connect> does not run on a hang-up
    await expect(client.calls(live.sid).update({ twiml: '<Response/>' })).rejects.toMatchObject({ status: 400, code: 21220 });
  });

  it('new TwiML through REST stops the stream and is followed; a stream the app closes goes on with the TwiML after it', async () => {
    app.onStream = () => {};
    const a = await dial('+15550000007', { path: '/stream' });
    const ca = await phoneCall('+15550000007', a.sid);
    await ca.when('stream-open');
    await client.calls(a.sid).update({ twiml: '<Response><Say>Transferred</Say><Hangup/></Response>' });
    expect(await ca.ended).toBe('completed');
    expect(ca.streams[0]!.closedBy).toBe('twilio');
    expect(ca.events('say').map((e) => e.detail?.['text'])).toEqual(['Transferred']);
    expect(types(ca, ['rest-update', 'stream-close', 'say', 'hangup'])).toEqual(['rest-update', 'stream-close', 'say', 'hangup']);

    app.onStream = (s) => setTimeout(() => s.ws.close(1000), 200);
    const b = await dial('+15550000007', { path: '/stream' });
    const cb = await phoneCall('+15550000007', b.sid);
    expect(await cb.ended).toBe('completed');
    expect(cb.streams[0]!.closedBy).toBe('bridge');
    expect(cb.events('say').map((e) => e.detail?.['text'])).toEqual(['After the stream']);

    const h = await dial('+15550000010', { path: '/stream' });
    const ch = await phoneCall('+15550000010', h.sid);
    expect(await ch.ended).toBe('completed');
    expect(types(ch)).not.toContain('say'); // hangUpOnStreamEnd: hangs up when the app closes the stream
  });

  it('a person on a call is busy for a second one; with call waiting both are answered and the overlap shows', async () => {
    app.onStream = () => {};
    const first = await dial('+15550000007', { path: '/stream' });
    const f = await phoneCall('+15550000007', first.sid);
    await f.when('stream-open');
    const second = await dial('+15550000007');
    const s = await phoneCall('+15550000007', second.sid);
    expect(await s.ended).toBe('busy');
    expect(s.events('busy')[0]!.detail).toEqual({ why: 'on another call, no call waiting' });
    // Dialled while on a call, even though it was refused.
    expect(fake.phone('+15550000007').overlaps().map((o) => [o.first.sid, o.second.sid])).toEqual([[first.sid, second.sid]]);
    await client.calls(first.sid).update({ status: 'completed' });
    await f.ended;

    const w1 = await dial('+15550000008', { path: '/stream' });
    const c1 = await phoneCall('+15550000008', w1.sid);
    await c1.when('stream-open');
    const w2 = await dial('+15550000008');
    const c2 = await phoneCall('+15550000008', w2.sid);
    expect(await c2.ended).toBe('completed');
    await client.calls(w1.sid).update({ status: 'completed' });
    await c1.ended;
    const overlaps = fake.phone('+15550000008').overlaps();
    expect(overlaps.map((o) => [o.first.sid, o.second.sid])).toEqual([[w1.sid, w2.sid]]);
  });

  it('<Redirect method="GET"> is fetched signed with the parameters in the query; DTMF is pressed on the stream on time; AnsweredBy with MachineDetection', async () => {
    app.route('/redir', '<Response><Redirect method="GET">/stream</Redirect></Response>');
    app.onStream = (s) => void s.when((m) => m['event'] === 'dtmf').then(() => s.ws.close(1000));
    const created = await dial('+15550000011', { path: '/redir', machineDetection: 'Enable' });
    const c = await phoneCall('+15550000011', created.sid);
    expect(await c.ended).toBe('completed');
    const get = appRequests(created.sid).find((r) => r.path === '/stream')!;
    expect(get).toMatchObject({ method: 'GET', signatureOk: true });
    expect(get.params).toMatchObject({ CallSid: created.sid, CallStatus: 'in-progress', AnsweredBy: 'human' });
    const s = app.streams.find((x) => x.streamSid() === c.streams[0]!.streamSid)!;
    const dtmf = s.messages.find((m) => m.m['event'] === 'dtmf')!;
    expect(dtmf.m['dtmf']).toEqual({ track: 'inbound_track', digit: '*' });
    expect(dtmf.at - c.streams[0]!.openedAt).toBeGreaterThanOrEqual(190);
    expect(c.streams[0]!.closedBy).toBe('bridge');
    expect(c.events('stream-dtmf').map((e) => e.detail)).toEqual([{ digit: '*' }]);

    const vm = await dial('+15550000002', { machineDetection: 'Enable' });
    const v = await phoneCall('+15550000002', vm.sid);
    await v.when('webhook');
    expect(v.webhooks[0]!.params['AnsweredBy']).toBe('machine_start');
    await client.calls(vm.sid).update({ status: 'completed' });
    expect(await v.ended).toBe('completed');
  });

  it('without a phone for its To a call stays a passive record', async () => {
    const before = app.requests.length;
    const c = await dial('+15550009999');
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.calls.find((x) => x.sid === c.sid)?.status).toBe('queued');
    expect(app.requests.length).toBe(before);
    expect(() => fake.phone('+15550009999')).toThrow(/no phone/);
  });
});
