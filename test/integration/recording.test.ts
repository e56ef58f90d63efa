/**
 * Call recordings, end to end on loopback: a two-party call with RECORDINGS_DIR set (fake
 * Twilio REST, embedded engine), a key pair made for the test, the file decrypted with the age
 * library and with the `age` CLI when installed; each channel checked against what the legs
 * sent and heard; the sidecar; no plaintext at rest; the retention sweep.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeakedFrames, isAudible, isInformativeFrame, simulateCall, toFrames, type SimulatedCallOptions, type SimulatedCallResult } from '../../tools/sim/index.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { embeddedHoldMusic } from '../../src/voice/hold-music.js';
import { registry } from '../../src/observability/metrics.js';
import type { Sidecar } from '../../src/recording/index.js';
import { startBridge, startLineBridge, type Bridge, waitFor } from '../helpers/harness.js';
import { ageCliDecrypt, decryptFile, hasAgeCli, makeKey, readRecordedWav, type TestKey } from '../helpers/recordings.js';

const LINE = '+15005550100'; // mask: agent
const LINE_BOTH = '+15005550200'; // mask: both
const AGENT = '+15005550111';
const AGENT_BOTH = '+15005550211';
const CALLER = '+15005550006';
const CALLER_BOTH = '+15005550007';

let fake: FakeTwilioRest;
let b: Bridge;
let key: TestKey;
let dir: string;

beforeAll(async () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'rec-'));
  key = await makeKey(tmp);
  dir = path.join(tmp, 'recordings');
  fake = await startFakeTwilioRest();
  b = await startLineBridge(
    fake,
    `lines:
  "${LINE}":
    agents: ["${AGENT}"]
    screen: false
    voice: deep-male
    notice: This call is voice masked and recorded.
  "${LINE_BOTH}":
    agents: ["${AGENT_BOTH}"]
    screen: false
    mask: both
    notice: This call is voice masked and recorded.
`,
    { WS_MAX_MESSAGES_PER_SEC: '5000', RECORDINGS_DIR: dir, RECORDINGS_AGE_RECIPIENTS: key.recipient },
  );
});
afterAll(async () => {
  await b?.close();
  await fake?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HOLD_FRAMES = new Set(toFrames(embeddedHoldMusic()).map((f) => Buffer.from(f).toString('base64')));
const HOLD_CYCLE = toFrames(embeddedHoldMusic()).filter((f) => isAudible(f));
const isHold = (f: Uint8Array) => HOLD_FRAMES.has(Buffer.from(f).toString('base64'));
/** Audible 20 ms frames that are not the hold music (received audio: on the 160-byte grid). */
const voiceFrames = (audio: Uint8Array) => toFrames(audio).filter((f) => isAudible(f) && !isHold(f));
/** Where the last hold-music frame in a recorded channel ends (0: none); the recording's grid is its own. */
function holdEnd(ch: Uint8Array): number {
  const buf = Buffer.from(ch);
  return Math.max(0, ...HOLD_CYCLE.map((f) => buf.lastIndexOf(Buffer.from(f)) + f.length).filter((e) => e >= 160));
}
/** Audible 20 ms frames of a recorded channel after its hold music. */
const recordedVoice = (ch: Uint8Array) => toFrames(ch.subarray(holdEnd(ch))).filter((f) => isAudible(f));
const roomOf = (c: FakeCall) => new URL(c.url!).searchParams.get('room');
const pairedLog = (room: string) => b.logs.some((l) => l.room === room.slice(0, 8) && l.msg === 'agent answered: call connected, agent voice masked');

/** A whole two-party call on `line`: the customer speaks once the agent answered, the agent speaks then hangs up. */
async function twoPartyCall(line: string, agentTo: string, from: string): Promise<{ cust: SimulatedCallResult; agent: SimulatedCallResult }> {
  let room: string | undefined;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const customer = simulateCall({
    url: b.url,
    webhookPath: '/twiml/line',
    authToken: fake.authToken,
    audio: loadClipMulaw('libri6829'),
    realtime: false,
    tailMs: 20_000,
    form: { To: line, From: from },
    onProgress: (e) => {
      if (e.type === 'webhook') room = e.parameters.room;
    },
    hooks: { afterStart: () => gate },
  });
  customer.catch(() => {});
  const r = await waitFor('the customer webhook', () => room);
  const dial = await waitFor('the dial', () => fake.calls.find((c) => c.to === agentTo && roomOf(c) === r));
  await sleep(600); // a little ringback on the recording
  const u = new URL(dial.url!);
  const answer: SimulatedCallOptions = {
    url: b.url,
    webhookPath: u.pathname,
    query: Object.fromEntries(u.searchParams),
    form: { CallSid: dial.sid, AccountSid: fake.accountSid, To: dial.to, From: dial.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
    authToken: fake.authToken,
    audio: loadClipMulaw('libri8230'),
    realtime: false,
    tailMs: 7000,
  };
  const agentP = simulateCall(answer);
  await waitFor('pairing', () => pairedLog(r));
  release();
  const [agent, cust] = await Promise.all([agentP, customer]);
  return { cust, agent };
}

/** The recording (file and sidecar) whose sidecar names this caller, once complete. */
async function recordingOf(from: string): Promise<{ file: string; sidecar: Sidecar; sidecarText: string }> {
  const last4 = from.slice(-4);
  return waitFor('the complete sidecar', () => {
    for (const n of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
      const text = readFileSync(path.join(dir, n), 'utf8');
      const s = JSON.parse(text) as Sidecar;
      if (s.caller === last4 && s.status !== 'recording') return { file: path.join(dir, s.file), sidecar: s, sidecarText: text };
    }
    return undefined;
  });
}

async function metric(name: string): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).reduce((n, v) => n + v.value, 0);
}

describe('call recordings', () => {
  it.concurrent('mask: agent: one encrypted stereo file; right channel masked only, left the customer; sidecar without numbers', async () => {
    const { cust, agent } = await twoPartyCall(LINE, AGENT, CALLER);
    const { file, sidecar, sidecarText } = await recordingOf(CALLER);

    // At rest: age from the first byte, nothing in the clear.
    const raw = readFileSync(file);
    expect(raw.subarray(0, 22).toString('latin1')).toBe('age-encryption.org/v1\n');
    expect(raw.includes(Buffer.from('RIFF'))).toBe(false);
    expect(path.basename(file)).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z-line-[a-z]{8}\.wav\.age$/);

    const wavBytes = await decryptFile(file, key.identity);
    const wav = readRecordedWav(wavBytes);
    expect(wav).toMatchObject({ channels: 2, sampleRate: 8000, formatTag: 7 });
    const [agentHeard, customerHeard] = wav.channel as [Uint8Array, Uint8Array];

    // What the customer heard: ringback, then the masked agent; never a frame of the agent's own voice.
    expect(findLeakedFrames(agent.sentFrames, customerHeard)).toBe(0);
    expect(findLeakedFrames(HOLD_CYCLE, customerHeard)).toBeGreaterThan(10);
    const agentSpeech = agent.sentFrames.filter(isInformativeFrame).length;
    const masked = recordedVoice(customerHeard).length;
    expect(masked).toBeGreaterThan(agentSpeech * 0.8);
    // Exactly what was sent: every masked frame the customer received is in the recording.
    const receivedVoice = voiceFrames(cust.receivedAudio);
    expect(findLeakedFrames(receivedVoice, customerHeard)).toBeGreaterThanOrEqual(receivedVoice.filter(isInformativeFrame).length * 0.98);

    // What the agent heard: the customer's phrases, frame for frame; the agent's voice is on no channel.
    const customerSpeech = cust.sentFrames.filter(isInformativeFrame).length;
    expect(findLeakedFrames(cust.sentFrames, agentHeard)).toBeGreaterThanOrEqual(customerSpeech * 0.95);
    expect(findLeakedFrames(agent.sentFrames, agentHeard)).toBe(0);
    expect(findLeakedFrames(agent.sentFrames, wavBytes)).toBe(0);

    // The age CLI reads the same file, and ffprobe the WAV in it (its length is "unknown": a stream).
    if (hasAgeCli) {
      const r = ageCliDecrypt(file, key.keyFile);
      expect(r.status).toBe(0);
      expect(Buffer.compare(r.out, Buffer.from(wavBytes))).toBe(0);
    }
    const probe = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,channels,sample_rate', '-of', 'json', '-i', 'pipe:0'], { input: wavBytes });
    if (!probe.error) expect(JSON.parse(String(probe.stdout)).streams[0]).toMatchObject({ codec_name: 'pcm_mulaw', channels: 2, sample_rate: '8000' });

    // The sidecar: what an operator needs, no phone number.
    expect(sidecar).toMatchObject({
      status: 'complete',
      kind: 'line',
      line: '0100',
      caller: '0006',
      agent: '0111',
      mask: 'agent',
      voice: 'deep-male',
      outcome: 'agent-hung-up',
      notice: 'This call is voice masked and recorded.',
      audio: { container: 'wav', codec: 'mu-law', sampleRate: 8000 },
      encryption: { format: 'age-encryption.org/v1', recipients: 1 },
      bytes: raw.length,
    });
    expect(sidecar.durationS).toBeCloseTo(wav.channel[0]!.length / 8000, 0);
    for (const n of [LINE, AGENT, CALLER]) {
      expect(sidecarText).not.toContain(n.slice(1));
      expect(sidecarText).not.toContain(n.slice(-7));
    }
    expect(readdirSync(dir).join(' ')).not.toMatch(/\d{5,}/);
  });

  it.concurrent('mask: both: the agent heard the customer masked; neither raw voice is recorded', async () => {
    const { cust, agent } = await twoPartyCall(LINE_BOTH, AGENT_BOTH, CALLER_BOTH);
    const { file, sidecar } = await recordingOf(CALLER_BOTH);
    const wav = readRecordedWav(await decryptFile(file, key.identity));
    const [agentHeard, customerHeard] = wav.channel as [Uint8Array, Uint8Array];
    for (const ch of [agentHeard, customerHeard]) {
      expect(findLeakedFrames(cust.sentFrames, ch)).toBe(0);
      expect(findLeakedFrames(agent.sentFrames, ch)).toBe(0);
    }
    expect(recordedVoice(agentHeard).length).toBeGreaterThan(100); // the customer, masked
    expect(recordedVoice(customerHeard).length).toBeGreaterThan(100); // the agent, masked
    expect(sidecar).toMatchObject({ status: 'complete', mask: 'both', outcome: 'agent-hung-up' });
  });

  it('no plaintext at rest: the folder holds age files and their sidecars only; metrics counted', async () => {
    await waitFor('both recordings', () => readdirSync(dir).filter((n) => n.endsWith('.json')).length >= 2 || undefined, 60_000);
    await b.recordings!.idle();
    for (const n of readdirSync(dir)) {
      const bytes = readFileSync(path.join(dir, n));
      if (n.endsWith('.wav.age')) expect(bytes.subarray(0, 21).toString('latin1')).toBe('age-encryption.org/v1');
      else expect(n).toMatch(/\.json$/);
      expect(bytes.includes(Buffer.from('RIFF'))).toBe(false);
      expect(bytes.includes(Buffer.from('WAVE'))).toBe(false);
    }
    expect(await metric('voicemask_recordings_started_total')).toBeGreaterThanOrEqual(2);
    expect(await metric('voicemask_recordings_finished_total')).toBeGreaterThanOrEqual(2);
    expect(await metric('voicemask_recording_bytes_written_total')).toBeGreaterThan(100_000);
    expect(b.logs.filter((l) => l.msg === 'recording finished').length).toBeGreaterThanOrEqual(2);
  });

  it('a recipient that does not decode refuses start-up, naming the variable', async () => {
    const broken = key.recipient.slice(0, -1) + (key.recipient.endsWith('q') ? 'p' : 'q');
    await expect(startBridge({ RECORDINGS_DIR: dir, RECORDINGS_AGE_RECIPIENTS: broken })).rejects.toThrow(/RECORDINGS_AGE_RECIPIENTS: ".+" is not a valid age X25519 recipient/);
  });

  it('retention: the sweep deletes recordings past RECORDINGS_RETENTION_DAYS, nothing else', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'rec-retention-'));
    const old = '2020-01-01T00-00-00Z-line-abcdefgh';
    const recent = '2020-01-02T00-00-00Z-hotline-ijklmnop';
    for (const n of [`${old}.wav.age`, `${old}.json`, `${recent}.wav.age`, `${recent}.json`, 'notes.txt', '2020-01-01-other.wav.age']) writeFileSync(path.join(tmp, n), '{}');
    const longAgo = new Date(Date.now() - 40 * 86_400_000);
    for (const n of [`${old}.wav.age`, `${old}.json`, 'notes.txt', '2020-01-01-other.wav.age']) utimesSync(path.join(tmp, n), longAgo, longAgo);
    const before = await metric('voicemask_recordings_deleted_total');
    const r = await startBridge({ RECORDINGS_DIR: tmp, RECORDINGS_AGE_RECIPIENTS: key.recipient, RECORDINGS_RETENTION_DAYS: '30' });
    try {
      // The sweep ran at start-up: the old pair went, the recent one and foreign files stayed.
      expect(readdirSync(tmp).sort()).toEqual(['2020-01-01-other.wav.age', `${recent}.json`, `${recent}.wav.age`, 'notes.txt'].sort());
      expect(await metric('voicemask_recordings_deleted_total')).toBe(before + 2);
      expect(r.logs.some((l) => l.msg === 'recording deleted: older than RECORDINGS_RETENTION_DAYS' && l.recording === old)).toBe(true);
      // The periodic sweep does the same later on.
      utimesSync(path.join(tmp, `${recent}.wav.age`), longAgo, longAgo);
      utimesSync(path.join(tmp, `${recent}.json`), longAgo, longAgo);
      expect(await r.recordings!.sweep()).toMatchObject({ deleted: 2 });
      expect(statSync(path.join(tmp, 'notes.txt')).isFile()).toBe(true);
    } finally {
      await r.close();
    }
  });
});
