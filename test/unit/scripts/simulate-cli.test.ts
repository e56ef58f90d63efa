import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { mulawSilence } from '../../../src/audio/mulaw.js';
import { encodeWavMulaw, encodeWavPcm16, parseWav } from '../../../src/audio/wav.js';
import { startLoopbackBridge, tone } from '../../helpers/loopback-bridge.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');
const SCRIPT = path.join(ROOT, 'scripts/simulate.ts');
const dir = mkdtempSync(path.join(tmpdir(), 'sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, TWILIO_AUTH_TOKEN: '', PUBLIC_URL: '' };
const fail = (p: Promise<{ stdout: string }>) => p.then((r) => ({ code: 0, stdout: r.stdout, stderr: '' }), (e: { code: number; stdout: string; stderr: string }) => e);

describe('npm run simulate', () => {
  it('places concurrent real-time calls, prints per-phrase latency and totals, and writes the heard WAV', async () => {
    const token = 'cli-token';
    // The bridge answers 400 ms after the phrase ends (phrase: 200-1000 ms) with a tone and a mark.
    const bridge = await startLoopbackBridge({
      authToken: token,
      onMessage: (m, ctx) => {
        if (m['event'] === 'media' && (m['media'] as Record<string, string>)['timestamp'] === '1400') {
          ctx.sendMedia(tone(300, 300));
          ctx.send({ event: 'mark', streamSid: ctx.streamSid(), mark: { name: 'm1' } });
        }
      },
    });
    try {
      const input = path.join(dir, 'in.wav');
      const pcm = new Int16Array(16000 * 2);
      for (let i = 3200; i < 16000; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000));
      writeFileSync(input, encodeWavPcm16(pcm, 16000));
      const out = path.join(dir, 'heard.wav');
      const { stdout } = await run(TSX, [SCRIPT, '--url', bridge.url, '--in', input, '--out', out, '--calls', '2', '--tail', '0.6s', '--voice', 'v1', '--dtmf', '5@0.5s', '--token', token], { env, cwd: ROOT });
      expect(stdout).toMatch(/input .*in\.wav: 2\.00 s of 8 kHz mu-law; 2 call\(s\)/);
      const phraseLines = stdout.split('\n').filter((l) => /phrase 1: 0\.2\ds-1\.0\ds/.test(l));
      expect(phraseLines).toHaveLength(2);
      for (const l of phraseLines) {
        const ms = Number(/latency (\d+) ms/.exec(l)?.[1]);
        expect(ms).toBeGreaterThanOrEqual(380);
        expect(ms).toBeLessThan(520);
      }
      expect(stdout).toMatch(/totals: 2\/2 calls, 2 phrases, 2 answered, 0 missed; latency p50 \d+ ms p95 \d+ ms/);
      expect(stdout).toMatch(/marks 2, clears 0, protocol errors 0, leaked frames 0/);
      expect(bridge.webhooks.map((w) => w.url)).toEqual(['/twiml/inbound?voice=v1', '/twiml/inbound?voice=v1']);
      expect(bridge.sockets.every((s) => s.messages.some((m) => m['event'] === 'dtmf'))).toBe(true);
      for (const f of ['heard-1.wav', 'heard-2.wav']) {
        const wav = parseWav(readFileSync(path.join(dir, f)));
        expect(wav).toMatchObject({ formatTag: 7, sampleRate: 8000, channels: 1 });
        expect(wav.data.length).toBeGreaterThan(8000 * 2.5);
        expect(wav.data.length).toBeLessThan(8000 * 3);
        expect(wav.data.some((b) => b !== 0xff)).toBe(true);
      }
    } finally {
      await bridge.close();
    }
  });

  it('exits 1 when the bridge leaked the caller\'s audio or sent messages Twilio would reject', async () => {
    // One bridge echoes the caller's frames back (a leak); the other sends a binary frame.
    const leaky = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] === 'media') ctx.sendMedia(Buffer.from((m['media'] as Record<string, string>)['payload']!, 'base64'));
      },
    });
    let sent = false;
    const sloppy = await startLoopbackBridge({
      onMessage: (m, ctx) => {
        if (m['event'] !== 'start' || sent) return;
        sent = true;
        ctx.ws.send(Buffer.from([1, 2, 3]));
      },
    });
    try {
      const input = path.join(dir, 'tone.wav');
      writeFileSync(input, encodeWavMulaw(tone(1000)));
      const [leak, proto] = await Promise.all([
        fail(run(TSX, [SCRIPT, '--in', input, '--url', leaky.url, '--fast', '--tail', '0.2s'], { env, cwd: ROOT })),
        fail(run(TSX, [SCRIPT, '--in', input, '--url', sloppy.url, '--fast', '--tail', '0.2s'], { env, cwd: ROOT })),
      ]);
      expect(leak.stdout).toMatch(/LEAKED \d+ caller frames/);
      expect(leak.code).toBe(1);
      expect(proto.stdout).toMatch(/1 protocol errors/);
      expect(proto.code).toBe(1);
    } finally {
      await leaky.close();
      await sloppy.close();
    }
  });

  it('explains a missing file, an unsupported format, a refused connection and a 403', async () => {
    const bridge = await startLoopbackBridge({ authToken: 'right' });
    const dead = await startLoopbackBridge();
    const deadUrl = dead.url;
    await dead.close();
    try {
      const good = path.join(dir, 'ok.wav');
      writeFileSync(good, encodeWavMulaw(mulawSilence(800)));
      const junk = path.join(dir, 'x.ogg');
      writeFileSync(junk, 'OggS nope');
      const [missing, unsupported, refused, forbidden] = await Promise.all([
        fail(run(TSX, [SCRIPT, '--in', path.join(dir, 'none.wav'), '--url', bridge.url], { env, cwd: ROOT })),
        fail(run(TSX, [SCRIPT, '--in', junk, '--url', bridge.url], { env, cwd: ROOT })),
        fail(run(TSX, [SCRIPT, '--in', good, '--url', deadUrl, '--fast', '--tail', '0s'], { env, cwd: ROOT })),
        fail(run(TSX, [SCRIPT, '--in', good, '--url', bridge.url, '--fast', '--tail', '0s', '--token', 'wrong'], { env, cwd: ROOT })),
      ]);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toMatch(/audio file not found: .*none\.wav/);
      expect(unsupported.code).toBe(2);
      expect(unsupported.stderr).toMatch(/unsupported audio format/);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/cannot reach the bridge .*ECONNREFUSED/);
      expect(forbidden.code).toBe(1);
      expect(forbidden.stderr).toMatch(/answered 403 \(signature rejected/);
    } finally {
      await bridge.close();
    }
  });
});
