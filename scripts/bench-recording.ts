/**
 * npm run bench:recording — what a call recording costs: CPU per recorded call minute and bytes
 * per minute, for a two-party call (stereo) and a hotline call (mono).
 *
 * Feeds the recording path exactly what a call's clocks would (a 20 ms chunk per channel every
 * 20 ms of call time, through the MediaTap interface), on a virtual clock so that many call
 * minutes run in a few seconds, taking the timeline every 200 ms as a live recording does,
 * and encrypts with age into a temporary folder. CPU is the process's user + system time.
 *
 *   npm run bench:recording                   # 10 call minutes each
 *   npm run bench:recording -- --minutes 30
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as age from 'age-encryption';
import { AgeFile, streamingWavHeader, Timeline } from '../src/recording/index.js';
import { loadClipMulaw } from '../tools/clips.js';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' } } });
const minutes = Number(args.minutes);
let runs = 0;

async function run(channels: number, recipient: string, dir: string): Promise<{ cpuMsPerMin: number; mbPerMin: number }> {
  const speech = loadClipMulaw('jfk');
  const file = path.join(dir, `bench-${channels}-${++runs}.wav.age`);
  const cpu0 = process.cpuUsage();
  const f = new AgeFile(file, { recipients: [recipient] });
  f.write(streamingWavHeader(channels));
  const t = new Timeline(channels, 0);
  const taps = Array.from({ length: channels }, (_, i) => t.tap(i));
  const totalMs = minutes * 60_000;
  let off = 0;
  let pushed = 0;
  for (let ms = 0; ms < totalMs; ms += 20) {
    for (const tap of taps) tap.played(speech.subarray(off % (speech.length - 160), (off % (speech.length - 160)) + 160), ms);
    off += 160;
    if (ms % 200 === 0) {
      const bytes = t.take(ms);
      pushed += bytes.length;
      f.write(bytes);
      // As in a call, the disk keeps up: wait for it when more than a few chunks are pending.
      while (pushed - f.bytesWritten > 256 * 1024) await new Promise((r) => setTimeout(r, 1));
    }
  }
  f.write(t.finish(totalMs));
  await f.end();
  const cpu = process.cpuUsage(cpu0);
  return { cpuMsPerMin: (cpu.user + cpu.system) / 1000 / minutes, mbPerMin: statSync(file).size / 1e6 / minutes };
}

const dir = mkdtempSync(path.join(tmpdir(), 'bench-recording-'));
try {
  const recipient = await age.identityToRecipient(await age.generateIdentity());
  await run(1, recipient, dir); // warm-up (JIT)
  for (const [name, ch] of [['two-party (stereo)', 2], ['hotline (mono)', 1]] as const) {
    const r = await run(ch, recipient, dir);
    console.log(`${name}: ${r.cpuMsPerMin.toFixed(1)} ms CPU per recorded call minute (${((r.cpuMsPerMin / 60_000) * 100).toFixed(3)} % of a core), ${r.mbPerMin.toFixed(2)} MB per minute, ${minutes} min`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
