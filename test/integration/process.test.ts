/**
 * The built server as a real process: `npm run build` output started with node (this catches
 * CommonJS/ESM import mistakes that tsx would hide), start-up validation, and graceful drain
 * on SIGTERM: /readyz turns 503, no new calls are admitted, the active call goes on, then the
 * process exits 0; after an uncaught exception the same drain, then exit 1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simulateCall } from '../../tools/sim/index.js';
import { loadClipMulaw } from '../../tools/clips.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MAIN = path.join(ROOT, 'dist/main.js');

beforeAll(() => {
  // Atomic and locked (scripts/build.mjs): other suites may be starting processes from dist/ meanwhile.
  execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'pipe' });
}, 120_000);

interface Proc {
  child: ChildProcess;
  url: Promise<string>;
  exit: Promise<number | null>;
  output: () => string;
}

function start(env: Record<string, string>, nodeArgs: string[] = []): Proc {
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on('data', (d) => (out += String(d)));
    child.on('exit', () => reject(new Error(`exited before ready:\n${out}`)));
  });
  url.catch(() => {});
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url, exit, output: () => out };
}

/** /readyz, polled until it answers 503 (a loaded machine may take a moment to handle the signal). */
async function readyzTurns503(url: string): Promise<number> {
  const end = Date.now() + 5000;
  for (;;) {
    const status = (await fetch(`${url}/readyz`)).status;
    if (status === 503 || Date.now() > end) return status;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const procs: Proc[] = [];
afterAll(() => {
  for (const p of procs) p.child.kill('SIGKILL');
});

describe('the built server process', () => {
  it('refuses to start on an invalid variable, naming it', async () => {
    const p = start({ PORT: 'abc', ELEVENLABS_VOICE_SETTINGS: 'not json' });
    procs.push(p);
    expect(await p.exit).toBe(1);
    expect(p.output()).toMatch(/PORT: expected an integer from 0 to 65535, got "abc"/);
    expect(p.output()).toMatch(/ELEVENLABS_VOICE_SETTINGS: expected a JSON object/);
  });

  it('says clearly when its port is taken', async () => {
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as import('node:net').AddressInfo).port;
    try {
      const p = start({ PORT: String(port) });
      procs.push(p);
      expect(await p.exit).toBe(1);
      expect(p.output()).toMatch(new RegExp(`cannot listen on 127.0.0.1:${port}: that port is already in use. Set PORT`));
    } finally {
      blocker.close();
    }
  });

  it('says clearly when HOST does not resolve', async () => {
    const p = start({ HOST: 'nope.invalid', ALLOW_UNSIGNED_TWILIO: 'true' });
    procs.push(p);
    expect(await p.exit).toBe(1);
    expect(p.output()).toMatch(/cannot listen on nope\.invalid:0: the host name nope\.invalid does not resolve\. Set HOST/);
  });

  it('warns loudly without TWILIO_AUTH_TOKEN and says which engine is active', async () => {
    const p = start({});
    procs.push(p);
    const url = await p.url;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(p.output()).toMatch(/TWILIO_AUTH_TOKEN is not set/);
    expect(p.output()).toMatch(/masking with the embedded offline engine/);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });

  it('drains on SIGTERM: readiness 503, no new calls, the active call finishes, exit 0', async () => {
    const p = start({ DRAIN_TIMEOUT: '30' });
    procs.push(p);
    const url = await p.url;
    const call = simulateCall({ url, audio: loadClipMulaw('libri8230'), realtime: true, tailMs: 500 });
    await new Promise((r) => setTimeout(r, 1500));
    p.child.kill('SIGTERM');
    expect(await readyzTurns503(url)).toBe(503);
    const webhook = await fetch(`${url}/twiml/inbound`, { method: 'POST', body: new URLSearchParams({}) });
    expect(webhook.status).toBe(503);
    await expect(simulateCall({ url, audio: new Uint8Array(1600).fill(0xff), realtime: false, tailMs: 0 })).rejects.toThrow(/503/);
    const r = await call;
    expect(r.closedBy).toBe('simulator'); // the active call was not cut off
    expect(r.receivedAudio.length).toBeGreaterThan(0);
    expect(await p.exit).toBe(0);
    expect(p.output()).toMatch(/shutdown complete/);
  });

  it('on an uncaught exception: logged and counted, /readyz 503, the active call goes on, then exit 1', async () => {
    // A bug outside any call, injected from outside the product: a preloaded module throws
    // from a timer when the process gets SIGUSR2.
    const dir = mkdtempSync(path.join(tmpdir(), 'vm-crash-'));
    const preload = path.join(dir, 'throw-on-usr2.mjs');
    writeFileSync(preload, "process.on('SIGUSR2', () => setTimeout(() => { throw new Error('injected bug'); }, 0));\n");
    const p = start({ DRAIN_TIMEOUT: '30' }, ['--import', preload]);
    procs.push(p);
    const url = await p.url;
    const call = simulateCall({ url, audio: loadClipMulaw('libri8230'), realtime: true, tailMs: 500 });
    await new Promise((r) => setTimeout(r, 1500));
    p.child.kill('SIGUSR2');
    expect(await readyzTurns503(url)).toBe(503);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/voicemask_call_errors_total\{stage="uncaught-exception"\} 1/);
    await expect(simulateCall({ url, audio: new Uint8Array(1600).fill(0xff), realtime: false, tailMs: 0 })).rejects.toThrow(/503/);
    const r = await call;
    expect(r.closedBy).toBe('simulator'); // not cut off by the crash
    expect(r.receivedAudio.length).toBeGreaterThan(0);
    expect(await p.exit).toBe(1);
    expect(p.output()).toMatch(/"level":60[^\n]*injected bug[^\n]*uncaught exception: draining the active calls/);
    expect(p.output()).toMatch(/shutdown complete/);
  });

  it('SIGHUP reloads the lines file: a bad file is refused with its problems, a good one is taken', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vm-lines-'));
    const file = path.join(dir, 'lines.yaml');
    writeFileSync(file, 'lines:\n  "+15005553100":\n    agents: ["+15005553111"]\n');
    const p = start({ LINES_CONFIG: file, TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, TWILIO_AUTH_TOKEN: 't'.repeat(32), TWILIO_API_BASE_URL: 'http://127.0.0.1:9' });
    procs.push(p);
    await p.url;
    writeFileSync(file, 'lines:\n  "+15005553100":\n    agents: ["+15005553111"]\n    maxWaitS: -5\n');
    p.child.kill('SIGHUP');
    const until = async (re: RegExp) => {
      const end = Date.now() + 10_000;
      while (!re.test(p.output()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
      return p.output();
    };
    expect(await until(/lines file NOT reloaded/)).toMatch(/line \\"\+15005553100\\": maxWaitS: expected at least 0 seconds/);
    writeFileSync(file, 'lines:\n  "+15005553100":\n    agents: ["+15005553111"]\n  "+15005553200":\n    agents: ["+15005553211"]\n');
    p.child.kill('SIGHUP');
    expect(await until(/lines file reloaded/)).toMatch(/lines file reloaded: new calls use it/);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  });
});
