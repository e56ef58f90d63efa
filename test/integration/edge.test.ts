/**
 * The HTTP edge on loopback: what a bridge refuses to start with, where /metrics is served,
 * how long kept-alive connections live (webhooks after idle and after a finished two-party call
 * on one keep-alive undici Agent never fail), and the connection cap with slow clients.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { simulateCall, twilioSignature } from '../../tools/sim/index.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { registry } from '../../src/observability/metrics.js';
import { startBridge, startLineBridge, waitFor, type Bridge } from '../helpers/harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('start-up on an address others can reach', () => {
  it('refuses a non-loopback HOST without TWILIO_AUTH_TOKEN, naming the variable and the ways out', async () => {
    await expect(startBridge({ CONVERTER: 'local', HOST: '0.0.0.0' })).rejects.toThrow(/TWILIO_AUTH_TOKEN: required when HOST \(0\.0\.0\.0\) is not a loopback address.*ALLOW_UNSIGNED_TWILIO=true/);
  });

  it('refuses TWILIO_AUTH_TOKEN without PUBLIC_URL there: a Host header must not choose what signatures cover', async () => {
    await expect(startBridge({ CONVERTER: 'local', HOST: '0.0.0.0', TWILIO_AUTH_TOKEN: 'x'.repeat(32) })).rejects.toThrow(/PUBLIC_URL: required when TWILIO_AUTH_TOKEN is set/);
  });

  it('starts unsigned on 0.0.0.0 only with ALLOW_UNSIGNED_TWILIO=true, warning loudly', async () => {
    const b = await startBridge({ CONVERTER: 'local', HOST: '0.0.0.0', ALLOW_UNSIGNED_TWILIO: 'true' });
    try {
      expect(b.logs.some((l) => /ALLOW_UNSIGNED_TWILIO=true: webhooks and media streams on this address are NOT authenticated/.test(String(l.msg)))).toBe(true);
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it('starts on loopback without a token, as local development and the tests do', async () => {
    const b = await startBridge({ CONVERTER: 'local' });
    await b.close();
  });
});

describe('/metrics', () => {
  it('on its own listener when METRICS_PORT is set, and then not on the public port', async () => {
    const b = await startBridge({ CONVERTER: 'local', METRICS_PORT: '0' });
    try {
      expect(b.metricsUrl).not.toBe(`${b.url}/metrics`);
      const res = await fetch(b.metricsUrl);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/voicemask_calls_active/);
      expect((await fetch(`${b.url}/metrics`)).status).toBe(404);
      expect((await fetch(b.metricsUrl.replace('/metrics', '/healthz'))).status).toBe(404);
    } finally {
      await b.close();
    }
  });

  it('on the public port to direct loopback clients only: never through a proxy or tunnel', async () => {
    const b = await startBridge({ CONVERTER: 'local', TRUST_PROXY: 'loopback' });
    try {
      expect((await fetch(`${b.url}/metrics`)).status).toBe(200);
      const proxied: Array<Record<string, string>> = [{ 'x-forwarded-for': '203.0.113.5' }, { forwarded: 'for=203.0.113.5' }, { 'x-real-ip': '203.0.113.5' }, { via: '1.1 ngrok' }];
      for (const h of proxied) {
        expect((await fetch(`${b.url}/metrics`, { headers: h })).status).toBe(404);
      }
    } finally {
      await b.close();
    }
  });

  it('names a METRICS_PORT equal to PORT', async () => {
    await expect(startBridge({ PORT: '8123', METRICS_PORT: '8123' })).rejects.toThrow(/METRICS_PORT \(8123\) must differ from PORT/);
  });
});

describe('kept-alive connections', () => {
  let b: Bridge;
  beforeAll(async () => {
    b = await startBridge({ CONVERTER: 'local' });
  });
  afterAll(() => b.close());

  it('outlive the load balancers in front (65 s) and are reused after an idle longer than the header timeout', async () => {
    expect(b.server.keepAliveTimeout).toBeGreaterThanOrEqual(65_000);
    expect(b.server.headersTimeout).toBeLessThanOrEqual(10_000);
    let opened = 0;
    const count = () => opened++;
    b.server.on('connection', count);
    const agent = new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000, connections: 1 });
    try {
      const post = async () => {
        const r = await request(`${b.url}/twiml/inbound`, { dispatcher: agent, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'CallSid=CA1' });
        await r.body.text();
        return { status: r.statusCode, keepAlive: r.headers['keep-alive'] };
      };
      expect(await post()).toEqual({ status: 200, keepAlive: `timeout=${b.server.keepAliveTimeout / 1000}` });
      // Idle past headersTimeout (5 s) and past Node's old 5 s keep-alive: same connection, answered.
      await sleep(6500);
      expect((await post()).status).toBe(200);
      expect(opened).toBe(1);
    } finally {
      b.server.off('connection', count);
      await agent.close();
    }
  }, 20_000);
});

describe('webhooks around a finished two-party call, on one keep-alive client', () => {
  const LINE = '+15005550100';
  const AGENT = '+15005550111';
  let fake: FakeTwilioRest;
  let b: Bridge;
  const agent = new Agent({ keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  beforeAll(async () => {
    fake = await startFakeTwilioRest();
    b = await startLineBridge(fake, `lines:\n  "${LINE}":\n    agents: ["${AGENT}"]\n    screen: false\n    wrapUpS: 0\n`, { WS_MAX_MESSAGES_PER_SEC: '5000' });
  });
  afterAll(async () => {
    await b?.close();
    await fake?.close();
    await agent.close();
  });

  /** A signed webhook on the shared keep-alive agent: its status, or the error that failed it. */
  async function post(url: string, form: Record<string, string>): Promise<number | string> {
    try {
      const r = await request(url, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilioSignature(fake.authToken, url, form) },
        body: new URLSearchParams(form).toString(),
      });
      await r.body.text();
      return r.statusCode;
    } catch (err) {
      return `failed: ${(err as Error).message}`;
    }
  }
  const status = (call: FakeCall, s: string) =>
    post(`${b.url}/twiml/agent-status${new URL(call.url!).search}`, { CallSid: call.sid, AccountSid: fake.accountSid, CallStatus: s, To: call.to, From: call.from });

  it('every webhook and status callback is answered: after the call ends, after 1.5 s, after idle', async () => {
    const answers: Array<number | string> = [];
    const opened: number[] = [];
    const onConn = () => opened.push(Date.now());
    b.server.on('connection', onConn);
    try {
      for (let i = 0; i < 3; i++) {
        let room: string | undefined;
        let go!: () => void;
        const gate = new Promise<void>((r) => (go = r));
        const cust = simulateCall({
          url: b.url,
          webhookPath: '/twiml/line',
          authToken: fake.authToken,
          audio: loadClipMulaw('libri6829').subarray(0, 16_000),
          realtime: false,
          tailMs: 600,
          form: { To: LINE },
          onProgress: (e) => {
            if (e.type === 'webhook') room = e.parameters.room;
          },
          hooks: { afterStart: () => gate },
        });
        const r = await waitFor('the room', () => room);
        const dial = await waitFor('the dial', () => fake.calls.find((c) => new URL(c.url!).searchParams.get('room') === r));
        answers.push(await status(dial, 'ringing'));
        const u = new URL(dial.url!);
        const leg = simulateCall({
          url: b.url,
          webhookPath: u.pathname,
          query: Object.fromEntries(u.searchParams),
          authToken: fake.authToken,
          audio: loadClipMulaw('libri8230').subarray(0, 16_000),
          realtime: false,
          tailMs: i % 2 ? 400 : 1500, // the agent hangs up first, then the customer first
          form: { CallSid: dial.sid, AccountSid: fake.accountSid, To: dial.to, From: dial.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
        });
        answers.push(await status(dial, 'in-progress'));
        go();
        await Promise.all([cust, leg]);
        answers.push(await status(dial, 'completed'));
        await sleep(1500);
        // The next customer's webhook on the kept-alive connection, about 1.5 s after the call.
        answers.push(await post(`${b.url}/twiml/line`, { CallSid: `CA${String(i).repeat(32)}`, AccountSid: fake.accountSid, To: '+15005559999', From: '+15005550006' }));
      }
      await sleep(6000); // idle past every header timeout and past Node's default keep-alive
      answers.push(await post(`${b.url}/twiml/line`, { CallSid: `CA${'9'.repeat(32)}`, AccountSid: fake.accountSid, To: '+15005559999', From: '+15005550006' }));
    } finally {
      b.server.off('connection', onConn);
    }
    expect(answers.filter((a) => typeof a === 'string')).toEqual([]);
    expect(answers.every((a) => a === 200 || a === 204)).toBe(true);
    expect(answers).toHaveLength(13);
  }, 90_000);
});

describe('slow webhook bodies', () => {
  it('a form still trickling in 10 s after its headers is cut off; the bridge serves on', async () => {
    const b = await startBridge({ CONVERTER: 'local' });
    try {
      const { port } = new URL(b.url);
      const t0 = Date.now();
      const closedAfter = await new Promise<number>((resolve) => {
        const s = net.connect(Number(port), '127.0.0.1', () => {
          s.write('POST /twiml/inbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nCallSid=CA');
        });
        s.resume();
        s.on('error', () => {});
        s.on('close', () => resolve(Date.now() - t0));
      });
      expect(closedAfter).toBeGreaterThanOrEqual(9000);
      expect(closedAfter).toBeLessThan(15_000);
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    } finally {
      await b.close();
    }
  }, 25_000);
});

describe('the connection cap', () => {
  it('drops connections past HTTP_MAX_CONNECTIONS, closes slow header senders within seconds, and serves again', async () => {
    const b = await startBridge({ CONVERTER: 'local', MAX_CALLS: '4', HTTP_MAX_CONNECTIONS: '20' });
    const sockets: net.Socket[] = [];
    try {
      const dropsBefore = await counter('voicemask_http_rejected_total', { reason: 'connection-cap' });
      const { port } = new URL(b.url);
      const closedAt: number[] = [];
      const t0 = Date.now();
      for (let i = 0; i < 30; i++) {
        const s = net.connect(Number(port), '127.0.0.1', () => s.write('POST /twiml/inbound HTTP/1.1\r\nHost: x\r\n')); // headers never finished
        s.on('error', () => {});
        s.resume(); // read the 408, or 'close' never comes
        s.on('close', () => closedAt.push(Date.now() - t0));
        sockets.push(s);
      }
      // 30 connections on a cap of 20: the last 10 are dropped as they arrive.
      await waitFor('the drops', () => closedAt.length >= 10, 5000);
      expect(await counter('voicemask_http_rejected_total', { reason: 'connection-cap' })).toBeGreaterThanOrEqual(dropsBefore + 10);
      expect(Math.max(...closedAt.slice(0, 10))).toBeLessThan(1000);
      // The slow ones are closed by the header timeout (5 s, checked every second).
      await waitFor('every slow socket closed', () => closedAt.length === 30, 12_000);
      expect(Math.max(...closedAt)).toBeLessThan(8000);
      expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
    } finally {
      for (const s of sockets) s.destroy();
      await b.close();
    }
  }, 20_000);
});

async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return Number(v?.value ?? 0);
}
