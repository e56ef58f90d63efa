/**
 * The ElevenLabs voices the configuration names, checked at start-up against the fake
 * (GET /v1/voices/{id}), and the fallback's voice during an outage: the embedded engine's preset
 * closest to each phrase's own voice (premade table, the labels the check fetched), never one
 * global default. Real bridge, fake ElevenLabs and Twilio REST on loopback.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulawDecode } from '../../src/audio/mulaw.js';
import { ConfigError } from '../../src/config/env.js';
import { medianVoiced, trackF0 } from '../../src/voice/local/pitch-tracker.js';
import { simulateCall, type SimulatedCallOptions } from '../../tools/sim/index.js';
import { startFakeTwilioRest, type FakeCall, type FakeTwilioRest } from '../../tools/fakes/fake-twilio-rest.js';
import { startFakeElevenLabs, type FakeElevenLabs, type FakeVoice } from '../../tools/fakes/fake-elevenlabs.js';
import { loadClipMulaw } from '../../tools/clips.js';
import { startBridge, startLineBridge, waitFor, type Bridge } from '../helpers/harness.js';

const LINE = '+15005550900';
const AGENT = '+15005550911';
const RACHEL = '21m00Tcm4TlvDq8ikWAM'; // premade: neutral-female
const VOICES: FakeVoice[] = [
  { voice_id: 'good', labels: { gender: 'male', age: 'middle_aged' } },
  { voice_id: 'persona-f', name: 'Support persona', category: 'generated', labels: { gender: 'female', age: 'middle_aged', accent: 'british' } },
  { voice_id: 'persona-young-f', category: 'generated', labels: { gender: 'female', age: 'young' } },
  { voice_id: 'mystery', category: 'cloned' },
];
let twilio: FakeTwilioRest;
beforeAll(async () => {
  twilio = await startFakeTwilioRest();
});
afterAll(async () => {
  await twilio?.close();
});

const env = (fake: FakeElevenLabs, more: Record<string, string> = {}) => ({
  CONVERTER: 'elevenlabs',
  ELEVENLABS_API_KEY: 'test-key',
  ELEVENLABS_BASE_URL: fake.baseUrl,
  ELEVENLABS_VOICE_ID: 'good',
  ...more,
});
const linesYaml = (agentVoice: string, extra = '') => `agents:\n  alice: { endpoint: "${AGENT}", voice: ${agentVoice} }\nlines:\n  "${LINE}":\n    agents: [alice]\n    screen: false\n${extra}`;
const refusal = async (p: Promise<Bridge>): Promise<ConfigError> => {
  const r = await p.then(
    async (b) => {
      await b.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(r).toBeInstanceOf(ConfigError);
  return r as ConfigError;
};

describe('ElevenLabs voices checked at start-up', () => {
  it.concurrent('an unknown voice of an agent or a line refuses the start, naming the line or agent and the field', async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES });
    try {
      const err = await refusal(startLineBridge(twilio, linesYaml('ghost', '    customerVoice: gone\n    voice: good\n'), env(fake)));
      expect(err.problems).toHaveLength(2);
      expect(err.message).toMatch(/line "\+15005550900": customerVoice: ElevenLabs has no voice "gone" .*404 voice_not_found/);
      expect(err.message).toMatch(/line "\+15005550900": agents\[0\] \(agent "alice"\): voice: ElevenLabs has no voice "ghost"/);
      expect(err.message).toMatch(/LINES_CONFIG \S+lines\.yaml/);
      // Each voice looked up once, with the key.
      expect(fake.voiceLookups.map((l) => l.voiceId).sort()).toEqual(['ghost', 'gone', 'good']);
      expect(fake.voiceLookups.every((l) => l.headers['xi-api-key'] === 'test-key')).toBe(true);
    } finally {
      await fake.close();
    }
  });

  it.concurrent('an unknown ELEVENLABS_VOICE_ID refuses the start naming the variable; the embedded engine checks nothing remotely', async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES });
    try {
      const err = await refusal(startBridge(env(fake, { ELEVENLABS_VOICE_ID: 'JBFqnCBsd6RMkjVDRZzx' })));
      expect(err.problems).toEqual([expect.stringMatching(/^ELEVENLABS_VOICE_ID: ElevenLabs has no voice "JBFqnCBsd6RMkjVDRZzx"/)]);
      const local = await startBridge({ CONVERTER: 'local', ELEVENLABS_BASE_URL: fake.baseUrl });
      await local.close();
      expect(fake.voiceLookups).toHaveLength(1);
    } finally {
      await fake.close();
    }
  });

  it.concurrent('ElevenLabs unreachable at start-up: the bridge starts with a warning, asks again, and an unknown voice found then is a loud error and a metric', async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES, voiceLookupFaults: [{ type: 'status', status: 503 }, { type: 'reset-before-first-byte' }] });
    const b = await startLineBridge(twilio, linesYaml('ghost'), env(fake));
    try {
      expect(b.logs.some((l) => l.level === 40 && /did not answer the voice check at start-up/.test(String(l.msg)))).toBe(true);
      const loud = await waitFor('the error', () => b.logs.find((l) => l.level === 50 && /NO voice "ghost"/.test(String(l.msg))), 15_000);
      expect(loud.msg).toMatch(/agent "alice"\): voice/);
      const text = await (await fetch(`${b.url}/metrics`)).text();
      expect(text).toMatch(/voicemask_elevenlabs_voices\{state="unknown"\} 1/);
      // Calls go on: the line still answers.
      expect(b.profile.voices.isValid('ghost')).toBe(false);
      expect(b.profile.voices.isValid('good')).toBe(true);
    } finally {
      await b.close();
      await fake.close();
    }
  });

  it.concurrent('a reload naming an unknown voice is refused: the previous file stays', async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES });
    const b = await startLineBridge(twilio, linesYaml('persona-f'), env(fake));
    try {
      writeFileSync(b.linesFile, linesYaml('nobody'));
      const r = await b.reloadLines();
      expect(r?.ok).toBe(false);
      expect(r?.problems.join('\n')).toMatch(/agents\[0\] \(agent "alice"\): voice: ElevenLabs has no voice "nobody"/);
      expect(b.logs.some((l) => l.msg === 'lines file NOT reloaded: it has problems; the previous one stays in use')).toBe(true);
      writeFileSync(b.linesFile, linesYaml('persona-young-f'));
      expect((await b.reloadLines())?.ok).toBe(true);
    } finally {
      await b.close();
      await fake.close();
    }
  });
});

/** Median F0 of what the listener heard (Hz). */
const heardF0 = (heard: Uint8Array) => medianVoiced(trackF0(mulawDecode(heard), 8000));
const fallbackLines = (b: Bridge, callKey?: string) => b.logs.filter((l) => l.msg === 'phrase sent to the fallback converter' && (callKey === undefined || l.callKey === callKey));

describe('the fallback voice during an outage: the preset closest to the phrase voice', () => {
  const male = loadClipMulaw('aew'); // a man, 11 s, three sentences

  it.concurrent('hotline: the configured persona (labels), a premade id and an unknown voice (LOCAL_VOICE_ID, warned once)', async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES, faults: () => ({ type: 'unauthorized' }) });
    const b = await startBridge(env(fake, { ELEVENLABS_VOICE_ID: 'persona-f', FALLBACK: 'local', LOCAL_VOICE_ID: 'neutral-male' }));
    try {
      const call = (voice?: string) => simulateCall({ url: b.url, audio: male, realtime: false, tailMs: 6000, endWhenIdleMs: 1500, ...(voice && { query: { voice } }) });
      const [persona, rachel, mystery] = await Promise.all([call(), call(RACHEL), call('mystery')]);
      const of = (r: { callSid: string }) => fallbackLines(b, r.callSid).map((l) => l.fallbackVoice);
      expect(of(persona).length).toBeGreaterThanOrEqual(2);
      expect(new Set(of(persona))).toEqual(new Set(['neutral-female']));
      expect(new Set(of(rachel))).toEqual(new Set(['neutral-female']));
      expect(new Set(of(mystery))).toEqual(new Set(['neutral-male']));
      expect(b.logs.filter((l) => l.level === 40 && l.voiceId === 'mystery' && /nothing is known/.test(String(l.msg)))).toHaveLength(1);
      // What the listener heard: a female voice (preset median 205 Hz) from a man's speech, and neutral-male (120 Hz).
      expect(heardF0(persona.heard)).toBeGreaterThan(170);
      expect(heardF0(rachel.heard)).toBeGreaterThan(170);
      expect(heardF0(mystery.heard)).toBeLessThan(150);
    } finally {
      await b.close();
      await fake.close();
    }
  });

  it.concurrent("a line: ElevenLabs fails mid-call and the agent's female persona stays female (never neutral-male)", async () => {
    const fake = await startFakeElevenLabs({ voices: VOICES, answer: 'echo', apiKey: null, faults: (i) => (i >= 1 ? { type: 'status', status: 500 } : undefined) });
    const b = await startLineBridge(twilio, linesYaml('persona-young-f'), env(fake, { FALLBACK: 'local', LOCAL_VOICE_ID: 'neutral-male', PLAYOUT_CLEAR_BACKLOG_MS: '0' }));
    try {
      let room: string | undefined;
      let release!: () => void;
      const paired = new Promise<void>((r) => (release = r));
      const common: Partial<SimulatedCallOptions> = { url: b.url, authToken: twilio.authToken, realtime: true };
      const customer = simulateCall({
        ...common,
        url: b.url,
        webhookPath: '/twiml/line',
        audio: new Uint8Array(0),
        tailMs: male.length / 8 + 8000,
        form: { To: LINE },
        onProgress: (e) => {
          if (e.type === 'webhook') room = e.parameters.room;
        },
        hooks: { afterStart: () => paired },
      });
      const r = await waitFor('the room', () => room);
      const dial: FakeCall = await waitFor('the agent dial', () => twilio.calls.find((c) => c.to === AGENT && new URL(c.url!).searchParams.get('room') === r));
      const u = new URL(dial.url!);
      const agent = simulateCall({
        ...common,
        url: b.url,
        webhookPath: u.pathname,
        query: Object.fromEntries(u.searchParams),
        form: { CallSid: dial.sid, AccountSid: twilio.accountSid, To: dial.to, From: dial.from, Direction: 'outbound-api', CallStatus: 'in-progress' },
        audio: male,
        tailMs: 6000,
      });
      await waitFor('pairing', () => b.logs.some((l) => l.msg === 'agent answered: call connected, agent voice masked'));
      release();
      const [, cust] = await Promise.all([agent, customer]);
      const fell = fallbackLines(b, dial.sid);
      expect(fell.length).toBeGreaterThanOrEqual(2);
      expect(fell.every((l) => l.voice === 'persona-young-f' && l.fallbackVoice === 'bright-female')).toBe(true);
      expect(fake.requests[0]!.voiceId).toBe('persona-young-f');
      // One chunk in the agent's own (echoed, male) voice, the rest in the persona's preset (240 Hz).
      expect(heardF0(cust.heard)).toBeGreaterThan(170);
    } finally {
      await b.close();
      await fake.close();
    }
  });
});
