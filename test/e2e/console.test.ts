/**
 * The operator console in a real browser: Debian's Chromium through playwright-core, against
 * a real bridge on loopback (contact lines on the fake Twilio REST API, ADMIN_TOKEN set)
 * carrying simulated calls. Signs in with the token in the page's password field, sees a live
 * hotline call appear and leave, pauses an agent and sees routing honour it, ends a line call,
 * masks Chromium's fake microphone in the voice lab, and checks that a browser without a
 * session sees nothing, that no page error or console error occurred, and that the page never
 * asked another origin for anything. Screenshots go to out/console-*.png.
 *
 * Skipped (saying so) without /usr/bin/chromium; .ci/run installs it.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';
import { encodeWavPcm16, initResampler, mulawDecode, resample } from '../../src/audio/index.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startFakeTwilioRest, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { simulateCall } from '../../tools/sim/index.js';
import { startLineBridge, waitFor, type Bridge } from '../helpers/harness.js';
import { lineLegs, roomOf } from '../helpers/line-legs.js';

const CHROMIUM = '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) console.warn(`test/e2e/console.test.ts: skipped, ${CHROMIUM} is not installed (apt-get install chromium; .ci/run installs it)`);

const TOKEN = 'console-e2e-token-0123456789abcdef0123456789';
const LINE = '+15005553300';
const ALICE = '+15005553311';
const BOB = '+15005553322';
const CALLER = '+15005554321';
const OUT = path.resolve('out');

let fake: FakeTwilioRest;
let bridge: Bridge;
let browser: Browser;
let ctx: BrowserContext;
let page: Page;
const problems: string[] = [];
const foreign: string[] = [];

async function shot(name: string): Promise<void> {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(OUT, `console-${name}.png`), fullPage: true });
}

/** Records page errors, console errors and warnings, and requests to another origin. */
function watch(p: Page, origin: string): void {
  p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  p.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'blob:' && u.protocol !== 'data:' && u.origin !== origin) foreign.push(r.url());
  });
}

describe.skipIf(!HAVE_CHROMIUM)('operator console in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    // Chromium's fake microphone plays a 16-bit PCM WAV: a real-speech clip, brought to 16 kHz.
    const dir = mkdtempSync(path.join(tmpdir(), 'console-e2e-'));
    const mic = path.join(dir, 'mic.wav');
    await initResampler();
    writeFileSync(mic, encodeWavPcm16(resample(mulawDecode(loadClipMulaw('libri8230')), 8000, 16000), 16000));
    fake = await startFakeTwilioRest();
    [bridge, browser] = await Promise.all([
      startLineBridge(
        fake,
        `agents:
  alice: { endpoint: "${ALICE}" }
  bob: { endpoint: "${BOB}" }
lines:
  "${LINE}":
    agents: [alice, bob]
    strategy: linear
    wrapUpS: 0
`,
        { ADMIN_TOKEN: TOKEN, WS_MAX_MESSAGES_PER_SEC: '5000' },
      ),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--use-fake-device-for-media-stream',
          '--use-fake-ui-for-media-stream',
          `--use-file-for-fake-audio-capture=${mic}`,
          '--autoplay-policy=no-user-gesture-required',
        ],
      }),
    ]);
    ctx = await browser.newContext({ viewport: { width: 1360, height: 900 }, permissions: ['microphone'] });
    page = await ctx.newPage();
    watch(page, new URL(bridge.url).origin);
  });

  afterAll(async () => {
    await browser?.close();
    await bridge?.close();
    await fake?.close();
  });

  it('a browser without a session sees the sign-in page and nothing else', async () => {
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      watch(p, new URL(bridge.url).origin);
      await p.goto(`${bridge.url}/console`);
      await expect.poll(() => p.locator('input[type="password"]').count()).toBe(1);
      expect(await p.locator('#calls-table').count()).toBe(0);
      await p.screenshot({ path: path.join(OUT, 'console-signin.png') });
      // The data and the page's script answer only with a session.
      for (const u of ['/console/api/state', '/console/events', '/console/assets/app.js', '/console/api/voices']) {
        const r = await p.request.get(`${bridge.url}${u}`);
        expect(r.status(), u).toBe(401);
      }
      // Navigating to them, the browser lands on the sign-in page.
      for (const u of ['/console/api/state', '/console/events']) {
        await p.goto(`${bridge.url}${u}`);
        expect(new URL(p.url()).pathname).toBe('/console');
        await expect.poll(() => p.locator('input[type="password"]').count()).toBe(1);
      }
      // A wrong token: back to the sign-in page, saying so.
      await p.fill('input[type="password"]', 'not-the-token-not-the-token-not-the-token');
      await p.click('button[type="submit"]');
      await expect.poll(() => p.locator('#signin-message').textContent()).toMatch(/not right/);
      expect(await p.locator('#calls-table').count()).toBe(0);
    } finally {
      await other.close();
    }
  });

  it('signs in with the token and sees a hotline call appear within 3 s and leave within 8 s of its end', async () => {
    await page.goto(`${bridge.url}/console`);
    await page.fill('input[type="password"]', TOKEN);
    await page.click('button[type="submit"]');
    await page.waitForSelector('#conn.ok', { timeout: 10_000 });

    let startedAt = 0;
    const call = simulateCall({
      url: bridge.url,
      authToken: fake.authToken,
      audio: loadClipMulaw('libri8230'),
      realtime: true,
      tailMs: 1500,
      form: { From: CALLER },
      onProgress: (e) => {
        if (e.type === 'start') startedAt = Date.now();
      },
    });
    const row = page.locator('#calls-table tbody tr', { hasText: '4321' });
    await row.waitFor({ timeout: 10_000 });
    expect(startedAt).toBeGreaterThan(0);
    expect(Date.now() - startedAt).toBeLessThan(3000);
    await expect.poll(() => row.textContent()).toMatch(/hotline.*connected/);
    // Only the caller's last four digits, never the number.
    expect(await page.locator('body').textContent()).not.toContain('5554321');
    await shot('live-call');

    const result = await call;
    const endedAt = Date.now();
    expect(result.endedBy).toBe('completed');
    await row.waitFor({ state: 'detached', timeout: 8000 });
    expect(Date.now() - endedAt).toBeLessThan(8000);
    // Finished: its outcome and duration, no number.
    const finished = page.locator('#finished-table tbody tr').first();
    await expect.poll(() => finished.textContent()).toContain('completed');
    // Once ended, nothing of the call but its outcome stays: not its digits, not even its mode in words.
    const text = await page.locator('body').innerText();
    expect(text).not.toContain('4321');
    expect(text.toLowerCase()).not.toContain('hotline');
  });

  it('pausing an agent changes routing at once; an operator ends a line call', async () => {
    const { callLine } = lineLegs(() => ({ url: bridge.url, fake }));
    const alice = page.locator('#agents-table tbody tr', { hasText: 'alice' });
    await alice.locator('button', { hasText: 'Pause' }).click();
    await expect.poll(() => alice.locator('.badge').textContent()).toBe('paused');

    // Strategy linear rings alice first; paused, she is skipped: bob is rung.
    const caller = callLine(LINE, { tailMs: 60_000, form: { From: '+15005558765' } });
    const room = await caller.room();
    const dial = await waitFor('the agent dial', () => fake.calls.find((c) => roomOf(c) === room));
    expect(dial.to).toBe(BOB);
    const row = page.locator('#calls-table tbody tr', { hasText: '8765' });
    await expect.poll(() => row.textContent(), { timeout: 5000 }).toMatch(/line.*ringing.*bob/);
    // The queue: one caller waiting (being rung), nobody free (alice paused, bob ringing).
    const queue = page.locator('#queues-table tbody tr').first().locator('td');
    await expect.poll(async () => { const t = await queue.allTextContents(); return [t[0], t[2], t[4]]; }).toEqual(['1', '1', '0 / 2']);
    await shot('line-ringing');

    // End it from the console (a second click confirms): the call leaves, the caller is hung up.
    const end = row.locator('button[data-action="end"]');
    await end.click();
    await expect.poll(() => end.textContent()).toBe('Confirm end');
    await end.click();
    await row.waitFor({ state: 'detached', timeout: 5000 });
    await waitFor('the caller hung up through the REST API', () => fake.requests.some((q) => q.method === 'POST' && q.form.Status === 'completed'));
    await expect.poll(() => page.locator('#finished-table tbody tr').first().textContent()).toContain('ended by operator');

    // Resumed, alice is offered the next caller.
    await alice.locator('button', { hasText: 'Resume' }).click();
    await expect.poll(() => alice.locator('.badge').textContent()).toBe('available');
    const hangUp = new AbortController();
    const next = callLine(LINE, { tailMs: 60_000, signal: hangUp.signal });
    const room2 = await next.room();
    const dial2 = await waitFor('the next dial', () => fake.calls.find((c) => roomOf(c) === room2));
    expect(dial2.to).toBe(ALICE);
    hangUp.abort();
    await Promise.all([caller.result, next.result]);
    await expect.poll(() => page.locator('#finished-table tbody tr').first().textContent()).toContain('abandoned');
  });

  it('the voice lab masks the microphone and plays it beside the original', async () => {
    await page.locator('#lab').scrollIntoViewIfNeeded();
    await page.selectOption('#lab-voice', 'deep-male');
    await page.click('#lab-record');
    await page.waitForSelector('#lab-results:not([hidden])', { timeout: 20_000 });
    await expect.poll(() => page.locator('#lab-status').textContent()).toMatch(/masked as deep-male/);
    // Played in the page (the test's TypeScript has no DOM types: the script is a string).
    const audio = (await page.evaluate(`(async () => {
      const masked = document.querySelector('#lab-masked');
      const original = document.querySelector('#lab-original');
      if (masked.readyState < 1) await new Promise((r) => masked.addEventListener('loadedmetadata', r, { once: true }));
      masked.currentTime = 0;
      await masked.play();
      await new Promise((r) => setTimeout(r, 700));
      return { src: masked.src, duration: masked.duration, time: masked.currentTime, originalDuration: original.duration };
    })()`)) as { src: string; duration: number; time: number; originalDuration: number };
    expect(audio.src).toMatch(/^blob:/);
    expect(audio.duration).toBeGreaterThan(3);
    expect(audio.time).toBeGreaterThan(0.2);
    expect(Math.abs(audio.duration - audio.originalDuration)).toBeLessThan(0.1);
    await shot('voice-lab');
  });

  it('showed no page error, no console error, and asked no other origin', async () => {
    await shot('console');
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  });
});

// The page's sources: everything it loads is on the bridge (no CDN).
describe('console front end', () => {
  it('references no other origin', () => {
    for (const f of ['index.html', 'signin.html', 'app.ts', 'style.css']) {
      const text = readFileSync(path.resolve('console', f), 'utf8');
      expect(text, f).not.toMatch(/(?:src|href)=["']?(?:https?:)?\/\//);
      expect(text, f).not.toMatch(/@import|url\(\s*["']?(?:https?:)?\/\//);
    }
  });
});
