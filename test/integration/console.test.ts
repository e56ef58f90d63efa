/**
 * The operator console's server side over real HTTP on loopback, without a browser (the
 * browser test is test/e2e/console.test.ts): absent without ADMIN_TOKEN; the sign-in, its
 * cookie and its rate limit; nothing without a session; CSRF on actions; the live state of a
 * real hotline call (last four digits only), over server-sent events too; ending a call; the
 * finished calls; the voice lab; the lines file reload and agent pause; ElevenLabs' health.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import type { ConsoleState, LabResult, ReloadView } from '../../src/console/index.js';
import { parseWav, wavToPcm16 } from '../../src/audio/index.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startFakeElevenLabs } from '../../tools/fakes/fake-elevenlabs.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { redisBinary, startRedis } from '../../tools/redis-server.js';
import { simulateCall } from '../../tools/sim/index.js';
import { startBridge, startLineBridge, waitFor, type Bridge } from '../helpers/harness.js';
import { lineLegs, roomOf } from '../helpers/line-legs.js';

const TOKEN = 'integration-console-token-0123456789abcdef';

/** Signs in: the session cookie and the page's CSRF token. */
async function signIn(url: string, token = TOKEN): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const r = await fetch(`${url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token }) });
  expect(r.status).toBe(303);
  expect(r.headers.get('location')).toBe('/console');
  const setCookie = r.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const page = await (await fetch(`${url}/console`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1] ?? '';
  expect(csrf).not.toBe('');
  return { cookie, csrf, setCookie };
}

const state = async (url: string, cookie: string): Promise<ConsoleState> => (await fetch(`${url}/console/api/state`, { headers: { cookie } })).json() as Promise<ConsoleState>;

describe('operator console: absent without ADMIN_TOKEN', () => {
  it('answers 404 everywhere under /console, and refuses a short token at start-up', async () => {
    const b = await startBridge({ CONVERTER: 'local' });
    try {
      for (const p of ['/console', '/console/assets/app.js', '/console/api/state', '/console/events']) expect((await fetch(`${b.url}${p}`)).status, p).toBe(404);
      expect((await fetch(`${b.url}/console/login`, { method: 'POST', body: new URLSearchParams({ token: 'x' }) })).status).toBe(404);
    } finally {
      await b.close();
    }
    expect(() => loadConfig({ ADMIN_TOKEN: 'short-token' })).toThrow(/ADMIN_TOKEN: expected at least 32 characters/);
  });
});

describe('operator console: hotline bridge', () => {
  let b: Bridge;
  beforeAll(async () => {
    // The proxy of these tests is on loopback: its X-Forwarded-Proto is believed (TRUST_PROXY).
    b = await startBridge({ CONVERTER: 'local', ADMIN_TOKEN: TOKEN, TRUST_PROXY: 'loopback' });
  });
  afterAll(async () => {
    await b?.close();
  });

  it('the sign-in page is public; everything else needs a session; the page has a strict CSP', async () => {
    const page = await fetch(`${b.url}/console`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toMatch(/<input[^>]+type="password"/);
    expect(html).not.toContain('calls-table');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect((await fetch(`${b.url}/console/assets/style.css`)).status).toBe(200);
    for (const p of ['/console/assets/app.js', '/console/api/state', '/console/events', '/console/api/voices', '/console/anything']) {
      const r = await fetch(`${b.url}${p}`);
      expect(r.status, p).toBe(401);
      expect(await r.text(), p).not.toMatch(/calls|finished/);
    }
    for (const p of ['/console/api/lines/reload', '/console/api/calls/CA1/end', '/console/api/lab', '/console/logout']) {
      expect((await fetch(`${b.url}${p}`, { method: 'POST' })).status, p).toBe(401);
    }
    // A browser navigating there is sent to the sign-in page instead.
    // (node:http: fetch sets Sec-Fetch-Mode itself.)
    const nav = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${b.url}/console/api/state`, { headers: { 'sec-fetch-mode': 'navigate' } }, (r) => resolve(r.resume())).on('error', reject),
    );
    expect(nav.statusCode).toBe(303);
    expect(nav.headers.location).toBe('/console');
    // A forged cookie is no session.
    expect((await fetch(`${b.url}/console/api/state`, { headers: { cookie: 'vm_console=v1.99999999999999.abc.def' } })).status).toBe(401);
  });

  it('signs in with the token: an HttpOnly, SameSite=Strict cookie for /console; a wrong token gets none', async () => {
    const { setCookie, cookie } = await signIn(b.url);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Strict/i);
    expect(setCookie).toMatch(/Path=\/console/);
    expect(setCookie).not.toMatch(/Secure/i); // plain http on loopback
    expect((await fetch(`${b.url}/console/assets/app.js`, { headers: { cookie } })).status).toBe(200);
    const wrong = await fetch(`${b.url}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: `${TOKEN}x` }) });
    expect(wrong.status).toBe(303);
    expect(wrong.headers.get('location')).toBe('/console?signin=failed');
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // A sign-in posted from another site is refused.
    const forged = await fetch(`${b.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { origin: 'https://evil.example' }, body: new URLSearchParams({ token: TOKEN }) });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('set-cookie')).toBeNull();
    // Behind an https proxy the cookie is Secure.
    const proxied = await fetch(`${b.url}/console/login`, { method: 'POST', redirect: 'manual', headers: { 'x-forwarded-proto': 'https' }, body: new URLSearchParams({ token: TOKEN }) });
    expect(proxied.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
  });

  it('actions need the CSRF token and a same-origin request; signing out ends the session', async () => {
    const { cookie, csrf } = await signIn(b.url);
    const post = (p: string, headers: Record<string, string>) => fetch(`${b.url}${p}`, { method: 'POST', headers: { cookie, ...headers } });
    expect((await post('/console/api/calls/CA0000/end', {})).status).toBe(403);
    expect((await post('/console/api/calls/CA0000/end', { 'x-csrf-token': 'nope' })).status).toBe(403);
    expect((await post('/console/api/calls/CA0000/end', { 'x-csrf-token': csrf, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post('/console/api/calls/CA0000/end', { 'x-csrf-token': csrf, origin: b.url })).status).toBe(404); // allowed; no such call
    expect((await post('/console/api/lines/reload', { 'x-csrf-token': csrf })).status).toBe(404); // no lines on this bridge
    expect((await post('/console/logout', { 'x-csrf-token': csrf })).status).toBe(204);
    expect((await fetch(`${b.url}/console/api/state`, { headers: { cookie } })).status).toBe(401);
  });

  it('shows a live hotline call (the last four digits only) over server-sent events, ends it, and lists it as finished', async () => {
    const { cookie, csrf } = await signIn(b.url);
    // The live feed, read as a browser would.
    const ctl = new AbortController();
    const events = await fetch(`${b.url}/console/events`, { headers: { cookie }, signal: ctl.signal });
    expect(events.headers.get('content-type')).toMatch(/text\/event-stream/);
    const seen: ConsoleState[] = [];
    const reading = (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            const msg = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const data = /^event: state\ndata: (.*)$/m.exec(msg)?.[1];
            if (data) seen.push(JSON.parse(data) as ConsoleState);
          }
        }
      } catch {
        // aborted
      }
    })();

    const hangUp = new AbortController();
    const call = simulateCall({ url: b.url, audio: loadClipMulaw('libri8230'), realtime: true, tailMs: 20_000, form: { From: '+14155559876' }, signal: hangUp.signal });
    const live = await waitFor('the call in the live feed', () => seen.at(-1)?.calls[0], 5000);
    expect(live).toMatchObject({ kind: 'hotline', state: 'connected', caller: '9876', voice: 'neutral-male', converter: 'embedded, streaming' });
    const raw = JSON.stringify(await state(b.url, cookie));
    expect(raw).toContain('9876');
    expect(raw).not.toContain('4155559876');

    // An operator ends it: the bridge closes the stream.
    const ended = await fetch(`${b.url}/console/api/calls/${live.id}/end`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
    expect(ended.status).toBe(200);
    const result = await call;
    expect(result.endedBy).toBe('bridge-closed');
    const after = await waitFor('the call gone from the live feed', () => seen.find((s) => s.calls.length === 0 && s.finished.length > 0), 5000);
    expect(after.finished[0]).toMatchObject({ id: live.id, kind: 'hotline', outcome: 'ended by operator' });
    expect(after.finished[0]!.durationS).toBeGreaterThan(0);
    expect(JSON.stringify(after.finished)).not.toContain('9876');
    ctl.abort();
    await reading;
  });

  it('sign-in attempts are rate-limited per client: the right token too, once over the limit', async () => {
    const limited = await startBridge({ CONVERTER: 'local', ADMIN_TOKEN: TOKEN });
    try {
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`${limited.url}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: 'wrong' }) });
        expect(r.status).toBe(303);
      }
      const r = await fetch(`${limited.url}/console/login`, { method: 'POST', redirect: 'manual', body: new URLSearchParams({ token: TOKEN }) });
      expect(r.status).toBe(429);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(r.headers.get('set-cookie')).toBeNull();
      expect(await r.text()).toMatch(/Too many attempts/);
    } finally {
      await limited.close();
    }
  });

  it('the voice lab masks a recording through the engine: the original at 8 kHz and the masked voice, as long, different', async () => {
    const { cookie, csrf } = await signIn(b.url);
    const lab = (voice: string, body: Uint8Array) =>
      fetch(`${b.url}/console/api/lab?voice=${voice}`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'audio/wav' }, body });
    const r = await lab('deep-male', readFileSync(path.resolve('test/fixtures/encoded/jfk_3s_16k.wav')));
    expect(r.status).toBe(200);
    const out = (await r.json()) as LabResult;
    expect(out.voice).toBe('deep-male');
    expect(out.engine).toMatch(/embedded engine, streaming/);
    const original = wavToPcm16(parseWav(Buffer.from(out.original, 'base64')));
    const masked = wavToPcm16(parseWav(Buffer.from(out.masked, 'base64')));
    expect(original.sampleRate).toBe(8000);
    expect(masked.sampleRate).toBe(8000);
    expect(masked.samples.length).toBe(original.samples.length);
    expect(out.seconds).toBeCloseTo(original.samples.length / 8000, 0);
    // Not the original: few samples equal, and the masked voice is not silent.
    let same = 0;
    let energy = 0;
    for (let i = 0; i < masked.samples.length; i++) {
      if (masked.samples[i] === original.samples[i]) same++;
      energy += masked.samples[i]! ** 2;
    }
    expect(same / masked.samples.length).toBeLessThan(0.2);
    expect(Math.sqrt(energy / masked.samples.length)).toBeGreaterThan(100);
    // A browser's own recording (WebM Opus from MediaRecorder) is accepted too.
    expect((await lab('neutral-female', readFileSync(path.resolve('test/fixtures/encoded/jfk_3s_live.webm')))).status).toBe(200);
    expect((await lab('nobody', new Uint8Array(100))).status).toBe(400);
    expect((await lab('deep-male', new Uint8Array(2000).fill(7))).status).toBe(415);
  });
});

describe('operator console: contact lines', () => {
  let fake: FakeTwilioRest;
  let b: Bridge;
  let linesFile: string;
  const yaml = (extra = '') => `agents:
  alice: { endpoint: "+15005557711" }
  "+15005557722": { endpoint: "+15005557722" }
lines:
  "+15005557700":
    agents: [alice, "+15005557722"]
${extra}`;
  beforeAll(async () => {
    fake = await startFakeTwilioRest();
    const dir = mkdtempSync(path.join(tmpdir(), 'console-lines-'));
    linesFile = path.join(dir, 'lines.yaml');
    writeFileSync(linesFile, yaml());
    b = await startLineBridge(fake, '', { LINES_CONFIG: linesFile, ADMIN_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await b?.close();
    await fake?.close();
  });

  it('lists lines and agents (numbers masked), pauses and resumes an agent, reloads the lines file and reports its problems', async () => {
    const { cookie, csrf } = await signIn(b.url);
    const s = await state(b.url, cookie);
    expect(s.lines).toEqual([expect.objectContaining({ label: '+*******7700', agents: 2, available: 2, queue: [] })]);
    expect(s.agents?.map((a) => [a.label, a.state])).toEqual([
      ['alice', 'available'],
      ['+*******7722', 'available'],
    ]);
    expect(JSON.stringify(s)).not.toMatch(/5005557/);

    const post = (p: string, body?: unknown) =>
      fetch(`${b.url}${p}`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' }, ...(body !== undefined && { body: JSON.stringify(body) }) });
    const numbered = s.agents![1]!;
    expect((await post(`/console/api/agents/${numbered.key}/pause`, { paused: true })).status).toBe(200);
    expect((await state(b.url, cookie)).agents![1]!.state).toBe('paused');
    expect((await post(`/console/api/agents/${numbered.key}/pause`, { paused: 'yes' })).status).toBe(400);
    expect((await post('/console/api/agents/not-an-agent/pause', { paused: true })).status).toBe(404);
    expect((await post(`/console/api/agents/${numbered.key}/pause`, { paused: false })).status).toBe(200);
    expect((await state(b.url, cookie)).agents![1]!.state).toBe('available');

    // A broken file: refused with its problems (numbers masked), the previous one kept.
    writeFileSync(linesFile, yaml('    strategy: nearest\n    ringTimeoutS: -3\n'));
    const bad = await post('/console/api/lines/reload');
    expect(bad.status).toBe(422);
    const problems = (await bad.json()) as ReloadView;
    expect(problems.ok).toBe(false);
    expect(problems.problems.join('\n')).toMatch(/strategy/);
    expect(problems.problems.join('\n')).not.toMatch(/5005557700/);
    writeFileSync(linesFile, yaml('    strategy: ringall\n'));
    const good = await post('/console/api/lines/reload');
    expect(good.status).toBe(200);
    expect(((await good.json()) as ReloadView).ok).toBe(true);
    expect((await state(b.url, cookie)).lines![0]!.strategy).toBe('ringall');
  });
});

describe('operator console: a line call through its states', () => {
  it('queued, ringing, screening (the agent hears the whisper), connected with its agent; finished with its wait', async () => {
    const fake = await startFakeTwilioRest();
    const b = await startLineBridge(fake, `lines:\n  "+15005558800":\n    agents: [bob]\nagents:\n  bob: { endpoint: "+15005558811", voice: deep-male }\n`, { ADMIN_TOKEN: TOKEN, WS_MAX_MESSAGES_PER_SEC: '5000' });
    try {
      const { cookie } = await signIn(b.url);
      const legs = lineLegs(() => ({ url: b.url, fake }));
      const seen = new Set<string>();
      const poll = setInterval(() => void state(b.url, cookie).then((s) => s.calls[0] && seen.add(s.calls[0].state)), 50);
      const live = async (want: string) => {
        for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
          const c = (await state(b.url, cookie)).calls[0];
          if (c?.state === want) return c;
        }
        throw new Error(`the call never showed ${want}`);
      };
      const caller = legs.callLine('+15005558800', { tailMs: 60_000, endWhenIdleMs: 3000, form: { From: '+15005551234' } });
      const room = await caller.room();
      const dial = await waitFor('the agent dial', () => fake.calls.find((c) => roomOf(c) === room), 10_000);
      expect(await live('ringing')).toMatchObject({ kind: 'line', caller: '1234', agent: 'bob', line: '+*******8800' });
      await legs.status(dial, 'in-progress');
      await live('screening');
      const agent = legs.pressOne(dial, { audio: loadClipMulaw('p240').subarray(0, 16000), tailMs: 1000 });
      const connected = await live('connected');
      expect(connected).toMatchObject({ agent: 'bob', voice: 'deep-male', converter: 'embedded, streaming' });
      expect(connected.connectedAt! - connected.queuedAt!).toBeGreaterThanOrEqual(0);
      clearInterval(poll);
      expect(seen.has('queued') || seen.has('ringing')).toBe(true);
      await agent;
      await legs.status(dial, 'completed');
      await caller.result;
      let finished: ConsoleState['finished'][number] | undefined;
      for (const until = Date.now() + 5000; !finished && Date.now() < until; await new Promise((r) => setTimeout(r, 50))) finished = (await state(b.url, cookie)).finished[0];
      expect(finished).toMatchObject({ kind: 'line', outcome: 'completed', agent: 'bob', line: '+*******8800' });
      expect(finished!.waitS).toBeGreaterThanOrEqual(0);
      expect(finished!.durationS).toBeGreaterThan(finished!.waitS!);
    } finally {
      await b.close();
      await fake.close();
    }
  });
});

describe('operator console: ElevenLabs health', () => {
  it('shows the circuit open and the fallbacks after ElevenLabs refuses the key, and the call masked by the embedded engine meanwhile', async () => {
    const fake = await startFakeElevenLabs({ apiKey: 'the-right-key' });
    const b = await startBridge({
      ELEVENLABS_API_KEY: 'a-wrong-key',
      ELEVENLABS_BASE_URL: fake.baseUrl,
      ELEVENLABS_MAX_CONCURRENCY: '4',
      FALLBACK: 'local',
      ADMIN_TOKEN: TOKEN,
    });
    try {
      const { cookie } = await signIn(b.url);
      const before = await state(b.url, cookie);
      expect(before.converter).toMatchObject({ engine: 'elevenlabs', mode: 'phrase', circuit: 'closed', fallback: 'local', slots: { inFlight: 0, queued: 0, limit: 4 } });
      const call = simulateCall({ url: b.url, audio: loadClipMulaw('libri8230'), realtime: false, tailMs: 2500 });
      let during: ConsoleState | undefined;
      for (const until = Date.now() + 15_000; !during && Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
        const s = await state(b.url, cookie);
        if (s.converter.circuit !== 'closed' && s.calls.length > 0) during = s;
      }
      expect(during, 'the circuit open in the console while the call goes on').toBeDefined();
      expect(during!.calls[0]!.converter).toBe('embedded (ElevenLabs down)');
      await call;
      const after = await state(b.url, cookie);
      expect(after.converter.recent.fallbacks).toBeGreaterThan(0);
    } finally {
      await b.close();
      await fake.close();
    }
  });
});

const haveRedis = Boolean(redisBinary());
if (process.env['VOICEMASK_REQUIRE_REDIS'] === '1' && !haveRedis) throw new Error('redis-server is required (VOICEMASK_REQUIRE_REDIS=1)');

describe.skipIf(!haveRedis)('operator console: two instances, one Redis', () => {
  it("an agent paused on one instance's console is not rung by the other; both consoles show it", async () => {
    const fake = await startFakeTwilioRest();
    const redis = await startRedis();
    const lines = `agents:\n  alice: { endpoint: "+15005556611" }\n  bob: { endpoint: "+15005556622" }\nlines:\n  "+15005556600":\n    agents: [alice, bob]\n    strategy: linear\n`;
    const env = { REDIS_URL: redis.url, LINE_ROOM_SECRET: 's'.repeat(32), ADMIN_TOKEN: TOKEN };
    const [a, b] = [await startLineBridge(fake, lines, env), await startLineBridge(fake, lines, env)];
    try {
      const [sa, sb] = [await signIn(a.url), await signIn(b.url)];
      const alice = (await state(a.url, sa.cookie)).agents!.find((x) => x.label === 'alice')!;
      const paused = await fetch(`${a.url}/console/api/agents/${alice.key}/pause`, {
        method: 'POST',
        headers: { cookie: sa.cookie, 'x-csrf-token': sa.csrf, 'content-type': 'application/json' },
        body: JSON.stringify({ paused: true }),
      });
      expect(paused.status).toBe(200);
      // The other instance's console sees it (the handle is per instance: find alice by name).
      expect((await state(b.url, sb.cookie)).agents!.find((x) => x.label === 'alice')!.state).toBe('paused');
      // A caller on the other instance: alice (first in roster order) is skipped, bob is rung.
      const hangUp = new AbortController();
      const caller = lineLegs(() => ({ url: b.url, fake })).callLine('+15005556600', { tailMs: 30_000, signal: hangUp.signal });
      const room = await caller.room();
      const dial = await waitFor('the agent dial', () => fake.calls.find((c) => roomOf(c) === room), 10_000);
      expect(dial.to).toBe('+15005556622');
      const live = (await state(b.url, sb.cookie)).calls[0]!;
      expect(live).toMatchObject({ kind: 'line', line: '+*******6600' });
      expect(['ringing', 'queued']).toContain(live.state);
      hangUp.abort();
      await caller.result;
    } finally {
      await a.close();
      await b.close();
      await redis.stop();
      await fake.close();
    }
  });
});
