/**
 * Benchmarks of the per-call hot path (not part of npm test):
 *
 *   npm run bench                 # micro-benchmarks, in process
 *   npm run build && npm run bench -- --calls 20   # plus whole-call CPU cost of the built bridge
 *
 * Micro: WebRTC VAD segmenter per 20 ms frame, phrase preparation (mu-law decode + 8 -> 16 kHz
 * resampling), protocol parse/serialize per frame, and the embedded engine per 20 ms frame in
 * streaming mode and per second of audio in phrase mode.
 * Whole call: N concurrent real-time calls against the built bridge as its own process; its CPU
 * time (from its /metrics) per second of call audio, for the embedded engine (streaming) and
 * for ElevenLabs (a loopback fake), i.e. how many calls one core carries.
 */
import { parseArgs } from 'node:util';
import { loopDelayMs, scrape, startBridgeProcess } from './lib/bridge-process.js';
import { mulawDecode } from '../src/audio/mulaw.js';
import { initResampler, resample } from '../src/audio/resampler.js';
import { loadConfig } from '../src/config/env.js';
import { parseInbound, serializeMedia } from '../src/twilio/messages.js';
import { initVad, PhraseSegmenter } from '../src/pipeline/vad/index.js';
import { segmenterOptions } from '../src/compose/masking-profile.js';
import { initLocalEngine, LocalEngine } from '../src/voice/local/index.js';
import { simulateCall } from '../tools/sim/index.js';
import { startFakeElevenLabs } from '../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../tools/clips.js';

const { values: args } = parseArgs({ options: { calls: { type: 'string', default: '0' }, voice: { type: 'string', default: 'neutral-male' } } });

function time(label: string, units: number, unitName: string, fn: () => void, perSecondOfAudio?: number): void {
  fn(); // warm-up
  const t0 = process.hrtime.bigint();
  fn();
  const ns = Number(process.hrtime.bigint() - t0);
  const per = ns / units / 1000;
  const rtf = perSecondOfAudio ? ns / 1e9 / perSecondOfAudio : undefined;
  console.log(`${label.padEnd(44)} ${per.toFixed(2).padStart(9)} µs/${unitName}${rtf !== undefined ? `   RTF ${rtf.toFixed(4)} (${Math.floor(1 / rtf)} streams/core)` : ''}`);
}

async function micro(): Promise<void> {
  await Promise.all([initResampler(), initVad(), initLocalEngine()]);
  const clip = loadClipMulaw('bush'); // 45 s of real speech with pauses
  const frames = Math.floor(clip.length / 160);
  const seconds = clip.length / 8000;
  const pcm8k = mulawDecode(clip);
  console.log(`micro-benchmarks on ${seconds.toFixed(0)} s of real speech (${frames} frames), one core\n`);

  time('VAD phrase segmenter', frames, 'frame', () => {
    const s = new PhraseSegmenter(segmenterOptions(loadConfig({})));
    for (let i = 0; i < frames; i++) s.push(pcm8k.subarray(i * 160, i * 160 + 160));
    s.close();
  }, seconds);

  time('phrase prep: mu-law decode + 8->16 kHz', frames, 'frame', () => {
    resample(mulawDecode(clip), 8000, 16000);
  }, seconds);

  const sid = 'MZ' + 'a'.repeat(32);
  const msgs = Array.from({ length: 1000 }, (_, i) =>
    JSON.stringify({ event: 'media', sequenceNumber: String(i + 2), streamSid: sid, media: { track: 'inbound', chunk: String(i + 1), timestamp: String(i * 20), payload: Buffer.from(clip.subarray(i * 160, i * 160 + 160)).toString('base64') } }),
  );
  time('protocol: parse inbound media message', msgs.length, 'frame', () => {
    for (const m of msgs) parseInbound(m);
  });
  time('protocol: serialize outbound media', 1000, 'frame', () => {
    for (let i = 0; i < 1000; i++) serializeMedia(sid, clip.subarray(i * 160, i * 160 + 160));
  });

  const engine = new LocalEngine({ defaultVoiceId: args.voice!, seed: 1 });
  time(`engine streaming (${args.voice})`, frames, 'frame', () => {
    const st = engine.openStream({ voiceId: args.voice! });
    for (let i = 0; i < frames; i++) st.push(pcm8k.subarray(i * 160, i * 160 + 160));
    st.close();
  }, seconds);
  const pcm16k = resample(mulawDecode(clip), 8000, 16000);
  time(`engine phrase mode (${args.voice})`, seconds, 's of audio', () => {
    engine.maskPcm16k(pcm16k, { voiceId: args.voice!, seed: 1 });
  }, seconds);
  await engine.close();
}




async function wholeCalls(label: string, calls: number, env: Record<string, string>): Promise<void> {
  const bridge = await startBridgeProcess({ MAX_CALLS: String(calls * 2), ...env });
  const url = bridge.url;
  try {
    const audio = loadClipMulaw('jfk');
    const cpu0 = (await scrape(url)).get('process_cpu_seconds_total')!;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: calls }, (_, i) =>
        new Promise((r) => setTimeout(r, i * 20)).then(() => simulateCall({ url, audio, realtime: true, tailMs: 2000 })),
      ),
    );
    const wall = (performance.now() - t0) / 1000;
    const end = await scrape(url);
    const cpu = end.get('process_cpu_seconds_total')! - cpu0;
    const callSeconds = results.reduce((a, r) => a + r.durationMs / 1000, 0);
    const perCall = cpu / callSeconds;
    console.log(
      `${label.padEnd(30)} ${calls} calls, ${callSeconds.toFixed(0)} call-s in ${wall.toFixed(1)} s wall: bridge CPU ${cpu.toFixed(2)} s` +
        ` = ${(perCall * 100).toFixed(2)}% of a core per call (about ${Math.floor(1 / perCall)} calls/core), event-loop delay p99 ${loopDelayMs(end).toFixed(1)} ms`,
    );
  } finally {
    bridge.stop();
  }
}

async function main(): Promise<void> {
  await micro();
  const calls = Number(args.calls);
  if (calls > 0) {
    console.log(`\nwhole calls (JFK clip, real time, bridge as its own process)\n`);
    await wholeCalls('embedded engine, streaming', calls, { CONVERTER: 'local', LOCAL_VOICE_ID: args.voice! });
    const fake = await startFakeElevenLabs({ apiKey: 'bench' });
    try {
      await wholeCalls('ElevenLabs (loopback fake)', calls, { ELEVENLABS_API_KEY: 'bench', ELEVENLABS_BASE_URL: fake.baseUrl, ELEVENLABS_MAX_CONCURRENCY: '50' });
    } finally {
      await fake.close();
    }
  }
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).stack}`);
  process.exit(1);
});
