import { afterEach, describe, expect, it } from 'vitest';
import { mulawSilence } from '../../../../src/audio/mulaw.js';
import { findLeakedFrames, isAudible, simulateCall, SimulatorError } from '../../../../tools/sim/index.js';
import { startLoopbackBridge, tone, type LoopbackBridge } from '../../../helpers/loopback-bridge.js';

const concat = (...parts: Uint8Array[]) => Buffer.concat(parts);
const media = (m: Record<string, unknown>) => m['media'] as Record<string, string>;

let bridge: LoopbackBridge | undefined;
afterEach(async () => {
  await bridge?.close();
  bridge = undefined;
});

/** Fraction of 10 ms blocks in [fromMs, toMs) of heard that are audible. */
function audibleShare(heard: Uint8Array, fromMs: number, toMs: number): number {
  let n = 0;
  let a = 0;
  for (let ms = fromMs; ms < toMs; ms += 10) {
    n++;
    if (isAudible(heard.subarray(ms * 8, ms * 8 + 80))) a++;
  }
  return a / n;
}

describe('simulateCall against a loopback bridge', () => {
  it('speaks the Media Streams protocol: connected, start with custom parameters, ordered media, stop', async () => {
    bridge = await startLoopbackBridge({ parameters: [['voice', 'deep-male'], ['note', 'a & b <c> "d"']] });
    const audio = tone(500);
    const r = await simulateCall({ url: bridge.url, audio, realtime: false, fastSpeedup: Infinity, tailMs: 100, query: { voice: 'deep-male' }, form: { From: '+15551230000' } });
    await bridge.closed[0];
    const msgs = bridge.sockets[0]!.messages;
    expect(msgs[0]).toEqual({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const start = msgs[1]!;
    expect(start['event']).toBe('start');
    expect(start['sequenceNumber']).toBe('1');
    expect(start['streamSid']).toBe(r.streamSid);
    expect(r.streamSid).toMatch(/^MZ[0-9a-f]{32}$/);
    expect(start['start']).toEqual({
      accountSid: r.accountSid,
      streamSid: r.streamSid,
      callSid: r.callSid,
      tracks: ['inbound'],
      customParameters: { voice: 'deep-male', note: 'a & b <c> "d"' },
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    });
    expect(r.parameters).toEqual({ voice: 'deep-male', note: 'a & b <c> "d"' });
    const mediaMsgs = msgs.filter((m) => m['event'] === 'media');
    expect(mediaMsgs).toHaveLength(25 + 5);
    expect(mediaMsgs.map((m) => media(m)['chunk'])).toEqual(mediaMsgs.map((_, i) => String(i + 1)));
    expect(mediaMsgs.map((m) => media(m)['timestamp'])).toEqual(mediaMsgs.map((_, i) => String(i * 20)));
    expect(mediaMsgs.every((m) => media(m)['track'] === 'inbound')).toBe(true);
    // The caller's audio arrives byte-exact, followed by 0xFF silence in the tail.
    const got = Buffer.concat(mediaMsgs.map((m) => Buffer.from(media(m)['payload']!, 'base64')));
    expect(got.subarray(0, 4000).equals(Buffer.from(audio))).toBe(true);
    expect(got.subarray(4000).every((b) => b === 0xff)).toBe(true);
    expect(r.sentFrames).toHaveLength(30);
    const seqs = msgs.slice(1).map((m) => Number(m['sequenceNumber']));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    const stop = msgs[msgs.length - 1]!;
    expect(stop).toMatchObject({ event: 'stop', streamSid: r.streamSid, stop: { accountSid: r.accountSid, callSid: r.callSid } });
    // Webhook: Twilio-style form with the query string on the URL.
    expect(bridge.webhooks[0]!.url).toBe('/twiml/inbound?voice=deep-male');
    expect(bridge.webhooks[0]!.form).toMatchObject({ CallSid: r.callSid, AccountSid: r.accountSid, From: '+15551230000', Direction: 'inbound' });
    expect(r.callSid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(r.endedBy).toBe('completed');
    expect(r.closedBy).toBe('simulator');
    expect(r.closeCode).toBe(1000);
    expect(r.protocolErrors).toEqual([]);
    expect(r.warnings.some((w) => w.includes('ws://'))).toBe(true);
  });

  it('plays answers through the emulated buffer at 8000 bytes/s and echoes the mark when playback reaches it', async () => {
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        // After 200 ms of caller audio, answer with a 600 ms tone sent in one burst, then a mark.
        if (m['event'] === 'media' && media(m)['chunk'] === '10') {
          ctx.sendMedia(tone(600, 300));
          ctx.send({ event: 'mark', streamSid: ctx.streamSid(), mark: { name: 'answer-1' } });
        }
      },
    });
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(8000), realtime: false, fastSpeedup: Infinity, tailMs: 1200 });
    await bridge.closed[0];
    expect(r.protocolErrors).toEqual([]);
    expect(r.received).toHaveLength(1);
    expect(r.received[0]!.payload.length).toBe(4800);
    const arrived = r.received[0]!.atMs;
    expect(r.marks).toHaveLength(1);
    const mark = r.marks[0]!;
    expect(mark.name).toBe('answer-1');
    expect(mark.echoedAtMs - mark.sentAtMs).toBeGreaterThanOrEqual(595);
    expect(mark.echoedAtMs - mark.sentAtMs).toBeLessThanOrEqual(620);
    // The bridge got the echo, with the same name, after the tone had played.
    const echo = bridge.sockets[0]!.messages.find((x) => x['event'] === 'mark');
    expect(echo).toMatchObject({ streamSid: r.streamSid, mark: { name: 'answer-1' } });
    // Heard: silence, 600 ms tone starting at arrival, then silence again.
    expect(audibleShare(r.heard, 0, Math.floor(arrived) - 10)).toBe(0);
    expect(audibleShare(r.heard, Math.ceil(arrived) + 10, arrived + 590)).toBe(1);
    expect(audibleShare(r.heard, arrived + 620, r.heard.length / 8)).toBe(0);
    expect(r.heard.length / 8).toBeCloseTo(r.durationMs, -1);
  });

  it('clear empties the buffer and echoes pending marks at once', async () => {
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] !== 'media') return;
        const chunk = Number(media(m)['chunk']);
        if (chunk === 5) {
          ctx.sendMedia(tone(2000, 300));
          ctx.send({ event: 'mark', streamSid: ctx.streamSid(), mark: { name: 'long' } });
        }
        if (chunk === 5 + 15) ctx.send({ event: 'clear', streamSid: ctx.streamSid() });
      },
    });
    const r = await simulateCall({ url: bridge.url, audio: new Uint8Array(0), realtime: true, tailMs: 800 });
    expect(r.clears).toHaveLength(1);
    expect(r.marks).toHaveLength(1);
    expect(r.marks[0]!.cleared).toBe(true);
    expect(r.marks[0]!.echoedAtMs).toBeCloseTo(r.clears[0]!, 0);
    const start = r.received[0]!.atMs;
    const clearAt = r.clears[0]!;
    expect(clearAt - start).toBeGreaterThan(200);
    expect(clearAt - start).toBeLessThan(500);
    expect(audibleShare(r.heard, start + 10, clearAt - 10)).toBe(1);
    expect(audibleShare(r.heard, clearAt + 10, r.heard.length / 8)).toBe(0);
  });

  it('paces frames in real time with a deadline clock', async () => {
    bridge = await startLoopbackBridge();
    const t = performance.now();
    const r = await simulateCall({ url: bridge.url, audio: tone(1000), realtime: true, tailMs: 200 });
    const elapsed = performance.now() - t;
    const arrivals = bridge.sockets[0]!.mediaArrivals;
    expect(arrivals).toHaveLength(60);
    const span = arrivals[59]! - arrivals[0]!;
    expect(span).toBeGreaterThan(59 * 20 - 40);
    expect(span).toBeLessThan(59 * 20 + 150);
    expect(elapsed).toBeGreaterThan(1150);
    expect(r.durationMs).toBeGreaterThan(1180);
  });

  it('fast mode paces the audio at fastSpeedup x real time, then the tail in real time', async () => {
    bridge = await startLoopbackBridge();
    const r = await simulateCall({ url: bridge.url, audio: tone(1200), realtime: false, fastSpeedup: 4, tailMs: 200 });
    const arrivals = bridge.sockets[0]!.mediaArrivals;
    expect(arrivals).toHaveLength(70);
    const audioSpan = arrivals[59]! - arrivals[0]!;
    expect(audioSpan).toBeGreaterThan((59 * 20) / 4 - 20);
    expect(audioSpan).toBeLessThan((59 * 20) / 4 + 100);
    // The call timeline stays virtual: the audio took 1.2 s of call time, the tail 0.2 s more.
    expect(r.audioEndMs).toBe(1200);
    expect(r.durationMs).toBeGreaterThan(1375);
  });

  it('reports per-phrase latency from when the speaker stopped to when the answer was first heard', async () => {
    // Caller: 200 ms silence, 1 s "speech", 1 s silence, 600 ms speech. The bridge answers each
    // phrase 300 ms after it ended (chunk numbering is 20 ms per chunk).
    const audio = concat(mulawSilence(1600), tone(1000), mulawSilence(8000), tone(600), mulawSilence(800));
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] !== 'media') return;
        const t = (Number(media(m)['chunk']) - 1) * 20;
        if (t === 1200 + 300 || t === 2800 + 300) ctx.sendMedia(tone(400, 200));
      },
    });
    const r = await simulateCall({ url: bridge.url, audio, realtime: false, fastSpeedup: Infinity, tailMs: 800 });
    expect(r.phrases).toHaveLength(2);
    expect(r.phrases[0]!.stoppedAtMs).toBe(1200);
    expect(r.phrases[1]!.stoppedAtMs).toBe(2800);
    for (const p of r.phrases) {
      expect(p.latencyMs).toBeGreaterThanOrEqual(300);
      expect(p.latencyMs).toBeLessThan(400);
      expect(p.firstHeardAtMs).toBe(p.stoppedAtMs + p.latencyMs!);
    }
  });

  it('sends DTMF at the requested call time', async () => {
    bridge = await startLoopbackBridge();
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(4000), realtime: false, fastSpeedup: Infinity, tailMs: 100, dtmf: [{ digit: '7', atMs: 240 }] });
    await bridge.closed[0];
    const msgs = bridge.sockets[0]!.messages;
    const i = msgs.findIndex((m) => m['event'] === 'dtmf');
    expect(msgs[i]).toMatchObject({ event: 'dtmf', streamSid: r.streamSid, dtmf: { track: 'inbound_track', digit: '7' } });
    // It goes out between the frames stamped 220 and 240 ms.
    expect(media(msgs[i - 1]!)['timestamp']).toBe('220');
    expect(media(msgs[i + 1]!)['timestamp']).toBe('240');
    expect(r.dtmfSent.map((d) => d.digit)).toEqual(['7']);
  });

  it('collects what Twilio would reject as protocol errors', async () => {
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] !== 'start') return;
        ctx.ws.send(Buffer.from([1, 2, 3]), { binary: true });
        ctx.ws.send('{not json');
        ctx.send({ event: 'speak', streamSid: ctx.streamSid() });
        ctx.send({ event: 'media', streamSid: 'MZwrong', media: { payload: 'AAAA' } });
        ctx.send({ event: 'media', streamSid: ctx.streamSid(), media: { payload: 'not base64!' } });
        ctx.send({ event: 'media', streamSid: ctx.streamSid(), media: {} });
        ctx.send({ event: 'mark', streamSid: ctx.streamSid(), mark: {} });
        ctx.send({ event: 'clear', streamSid: ctx.streamSid() });
      },
    });
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(800), realtime: false, fastSpeedup: Infinity, tailMs: 100 });
    expect(r.protocolErrors).toHaveLength(7);
    expect(r.protocolErrors.join('\n')).toMatch(/binary frame/);
    expect(r.protocolErrors.join('\n')).toMatch(/invalid JSON/);
    expect(r.protocolErrors.join('\n')).toMatch(/unknown event "speak"/);
    expect(r.protocolErrors.join('\n')).toMatch(/wrong or missing streamSid "MZwrong"/);
    expect(r.protocolErrors.join('\n')).toMatch(/not valid base64/);
    expect(r.protocolErrors.join('\n')).toMatch(/missing media.payload/);
    expect(r.protocolErrors.join('\n')).toMatch(/missing mark.name/);
    expect(r.clears).toHaveLength(1); // the valid clear counts
    expect(r.received).toHaveLength(0);
  });

  it('detects a bridge that echoes the caller back (leak) and not one that sends a tone', async () => {
    const speech = tone(1000, 523, 6000);
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] === 'media') ctx.sendMedia(Buffer.from(media(m)['payload']!, 'base64'));
      },
    });
    const leaky = await simulateCall({ url: bridge.url, audio: speech, realtime: false, fastSpeedup: Infinity, tailMs: 100 });
    expect(findLeakedFrames(leaky.sentFrames, leaky.receivedAudio)).toBe(50);
    await bridge.close();
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] === 'media') ctx.sendMedia(tone(20, 300, 6000));
      },
    });
    const clean = await simulateCall({ url: bridge.url, audio: speech, realtime: false, fastSpeedup: Infinity, tailMs: 100 });
    expect(clean.receivedAudio.length).toBeGreaterThan(8000);
    expect(findLeakedFrames(clean.sentFrames, clean.receivedAudio)).toBe(0);
  });

  it('stops when the bridge hangs up', async () => {
    bridge = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] === 'media' && media(m)['chunk'] === '3') ctx.ws.close(4000, 'bye');
      },
    });
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(8000), realtime: false, fastSpeedup: Infinity, tailMs: 0 });
    expect(r.endedBy).toBe('bridge-closed');
    expect(r.closedBy).toBe('bridge');
    expect(r.closeCode).toBe(4000);
    expect(r.closeReason).toBe('bye');
    expect(r.sentFrames.length).toBeLessThan(50);
  });

  it('hangs up on abort and still returns what happened', async () => {
    bridge = await startLoopbackBridge();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(16000), realtime: true, tailMs: 0, signal: ac.signal });
    expect(r.endedBy).toBe('abort');
    expect(r.sentFrames.length).toBeGreaterThan(3);
    expect(r.sentFrames.length).toBeLessThan(30);
    await bridge.closed[0];
    expect(bridge.sockets[0]!.messages.at(-1)!['event']).toBe('stop');
  });

  it('ends the tail early once the line has been idle (endWhenIdleMs)', async () => {
    bridge = await startLoopbackBridge();
    const r = await simulateCall({ url: bridge.url, audio: mulawSilence(800), realtime: false, fastSpeedup: Infinity, tailMs: 5000, endWhenIdleMs: 200 });
    expect(r.endedBy).toBe('idle');
    expect(r.durationMs).toBeLessThan(1000);
  });

  it('raw hooks send arbitrary frames through the same socket', async () => {
    bridge = await startLoopbackBridge();
    await simulateCall({
      url: bridge.url,
      audio: mulawSilence(320),
      realtime: false, fastSpeedup: Infinity,
      tailMs: 0,
      send: { connected: false },
      hooks: { afterStart: (raw) => raw.sendEvent('media', { media: { track: 'inbound', chunk: '99', timestamp: '0', payload: '' } }) },
    });
    await bridge.closed[0];
    const msgs = bridge.sockets[0]!.messages;
    expect(msgs[0]!['event']).toBe('start');
    expect(media(msgs[1]!)['chunk']).toBe('99');
    expect(msgs[1]!['sequenceNumber']).toBe('2');
  });
});

describe('simulateCall signing and failures', () => {
  const token = 'test-auth-token-0123456789abcdef';

  it('signs the webhook and the WebSocket upgrade so a validating server accepts them', async () => {
    bridge = await startLoopbackBridge({ authToken: token });
    const r = await simulateCall({ url: bridge.url, authToken: token, audio: mulawSilence(160), realtime: false, fastSpeedup: Infinity, tailMs: 0, query: { voice: 'x y' } });
    expect(r.webhookStatus).toBe(200);
    expect(bridge.upgrades[0]!.signature).toBeTruthy();
    expect(r.sentFrames).toHaveLength(1);
  });

  it('signs over the public URL while connecting to the local one', async () => {
    const publicUrl = 'https://voice.example.com';
    bridge = await startLoopbackBridge({ authToken: token, publicUrl, streamUrl: () => 'wss://voice.example.com/media' });
    const r = await simulateCall({ url: bridge.url, authToken: token, signatureUrlBase: publicUrl, audio: mulawSilence(160), realtime: false, fastSpeedup: Infinity, tailMs: 0 });
    expect(r.streamUrl).toBe('wss://voice.example.com/media');
    expect(r.connectUrl).toBe(`${bridge.url.replace('http', 'ws')}/media`);
    expect(bridge.upgrades).toHaveLength(1);
  });

  it('fails with status 403 when the webhook signature is wrong', async () => {
    bridge = await startLoopbackBridge({ authToken: token });
    const err = await simulateCall({ url: bridge.url, authToken: 'wrong', audio: mulawSilence(160) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SimulatorError);
    expect(err).toMatchObject({ kind: 'webhook-status', status: 403 });
    expect((err as Error).message).toMatch(/403/);
  });

  it('fails with upgrade-rejected 403 when only the handshake signature is wrong', async () => {
    // The server validates the upgrade against a public URL the TwiML does not name.
    bridge = await startLoopbackBridge({ authToken: token, streamUrl: () => 'wss://elsewhere.example.com/media' });
    const err = await simulateCall({ url: bridge.url, authToken: token, audio: mulawSilence(160) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'upgrade-rejected', status: 403 });
  });

  it('reports a refused connection clearly', async () => {
    const b = await startLoopbackBridge();
    const url = b.url;
    await b.close();
    const err = await simulateCall({ url, audio: mulawSilence(160) }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'connect-refused' });
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});
