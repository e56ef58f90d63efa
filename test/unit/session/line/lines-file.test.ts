import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '../../../../src/config/env.js';
import { checkLineVoices, LinesConfigError, loadLinesFile, parseLines } from '../../../../src/session/line/lines-file.js';

const defaults = { mask: 'agent' as const, dialTimeoutS: 30 };
const FILE = '/etc/voice-mask/lines.yaml';

function problems(text: string, file = FILE): string[] {
  try {
    parseLines(text, file, defaults);
  } catch (err) {
    expect(err).toBeInstanceOf(LinesConfigError);
    expect(err).toBeInstanceOf(ConfigError); // main.ts prints it like any configuration error
    for (const p of (err as LinesConfigError).problems) expect(p.startsWith(`LINES_CONFIG ${file}: `)).toBe(true);
    return (err as LinesConfigError).details;
  }
  throw new Error('expected the file to be refused');
}

describe('lines file', () => {
  it('accepts a good YAML file and applies the defaults', () => {
    const cfg = parseLines(
      `lines:
  "+14155550100":
    agents: ["+14155550111", "sip:agent@pbx.example.com", "client:alice"]
    ring: simultaneous
    voice: deep-male
    mask: both
    customerVoice: bright-female
    notice: This call is voice masked.
    dialTimeoutS: 20
    fallbackTwiml: "<Response><Say>Please call again later.</Say><Hangup/></Response>"
  "+442071838750":
    agents: ["+442071838751", "+442071838752"]
`,
      FILE,
      defaults,
    );
    const a = cfg.get('+14155550100')!;
    expect(a).toMatchObject({
      strategy: 'ringall', // ring: simultaneous
      voice: 'deep-male',
      mask: 'both',
      customerVoice: 'bright-female',
      notice: 'This call is voice masked.',
      dialTimeoutS: 20,
      ringTimeoutS: 20,
      callerId: '+14155550100',
      screen: true,
    });
    // A plain-string agent is its own id.
    expect(a.agents.map((x) => [x.id, x.endpoint])).toEqual([
      ['+14155550111', '+14155550111'],
      ['sip:agent@pbx.example.com', 'sip:agent@pbx.example.com'],
      ['client:alice', 'client:alice'],
    ]);
    const b = cfg.get(' +442071838750 ')!;
    // The defaults of a contact line: longest-idle, screening, a queue of 5 minutes, 20 s of ringing, 5 s of wrap-up.
    expect(b).toMatchObject({ strategy: 'longest-idle', mask: 'agent', dialTimeoutS: 30, ringTimeoutS: 20, wrapUpS: 5, maxWaitS: 300, acceptTimeoutS: 10, screen: true, persona: 'per-call', voice: undefined, fallbackTwiml: undefined, overflow: undefined });
    expect(cfg.get('+10000000000')).toBeUndefined();
    expect(cfg.get(undefined)).toBeUndefined();
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('accepts JSON (by extension) and reads a file from disk', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lines-'));
    const file = path.join(dir, 'lines.json');
    writeFileSync(file, JSON.stringify({ lines: { '+14155550100': { agents: ['client:bob'], dialTimeoutS: 10 } } }));
    const cfg = loadLinesFile(file, defaults);
    expect(cfg.file).toBe(file);
    expect(cfg.get('+14155550100')).toMatchObject({ agents: [{ id: 'client:bob', endpoint: 'client:bob' }], dialTimeoutS: 10, ringTimeoutS: 10 });
  });

  it('names the file when it cannot be read or parsed', () => {
    expect(() => loadLinesFile('/nonexistent/lines.yaml', defaults)).toThrow(/LINES_CONFIG \/nonexistent\/lines\.yaml: cannot be read: ENOENT/);
    expect(problems('lines: [unclosed')[0]).toMatch(/^is not valid YAML: /);
    expect(problems('{"lines": ', '/x/lines.json')[0]).toMatch(/^is not valid JSON: /);
    expect(problems('')).toEqual(['the document: is empty; expected "lines:"']);
    expect(problems('lines: {}')).toEqual(['lines: no line is configured']);
    expect(problems('numbers: {}\nlines: {}')[0]).toMatch(/unknown top-level key\(s\) "numbers": expected only "agents" and "lines"/);
  });

  it('names the line and the field of each problem, all at once', () => {
    const out = problems(`lines:
  "+14155550100":
    agents: ["+14155550111", "bob@example.com"]
    ring: round-robin
    mask: customer
    dialTimeoutS: 2
    colour: blue
  "+14155550200":
    agents: []
    fallbackTwiml: "<Say>hi</Say>"
    callerId: "4155550100"
  "4155550300":
    agents: ["client:carol"]
`);
    expect(out).toEqual(
      expect.arrayContaining([
        'line "+14155550100": ring: expected "sequential" or "simultaneous"',
        'line "+14155550100": mask: expected "agent" or "both"',
        'line "+14155550100": dialTimeoutS: expected at least 5 seconds',
        'line "+14155550100": unknown field(s) "colour"',
        'line "+14155550200": agents: expected at least one agent',
        'line "+14155550200": fallbackTwiml: expected a TwiML document: <Response>...</Response>',
        'line "+14155550200": callerId: expected an E.164 number such as +14155550123',
      ]),
    );
    expect(out).toHaveLength(7); // the bad agent and key are reported once the fields are fixed
    expect(problems(`lines:\n  "4155550300":\n    agents: ["client:carol"]\n`)).toEqual([
      'line "4155550300": the key must be the dialled number in E.164 form, such as "+14155550123" (quote it in YAML)',
    ]);
  });

  it('refuses duplicate agents, a ring timeout longer than the dial timeout, duplicate keys and wrong types', () => {
    expect(problems(`lines:\n  "+14155550100":\n    agents: ["client:a", "client:a"]\n`)).toEqual(['line "+14155550100": agents: "client:a" is listed twice']);
    expect(problems(`lines:\n  "+14155550100":\n    agents: ["client:a"]\n    dialTimeoutS: 10\n    ringTimeoutS: 20\n`)).toEqual([
      'line "+14155550100": ringTimeoutS: (20) is longer than dialTimeoutS (10)',
    ]);
    expect(problems(`lines:\n  "+14155550100":\n    agents: ["client:a"]\n  "+14155550100":\n    agents: ["client:b"]\n`)[0]).toMatch(/not valid YAML.*(unique|Map keys)/i);
    expect(problems(`lines:\n  "+14155550100":\n    agents: "client:a"\n    dialTimeoutS: "ten"\n`)).toEqual([
      'line "+14155550100": agents: expected a list of agents',
      'line "+14155550100": dialTimeoutS: expected a number of seconds from 5 to 600',
    ]);
  });

  it('checks voices against the converter once it is known', () => {
    const cfg = parseLines(`lines:\n  "+14155550100":\n    agents: ["client:a"]\n    voice: robot\n    voices: [deep-male, kazoo]\n`, FILE, defaults);
    const known = new Set(['deep-male', 'neutral-male']);
    let err: unknown;
    try {
      checkLineVoices(cfg, (v) => known.has(v), () => 'deep-male, neutral-male');
    } catch (e) {
      err = e;
    }
    expect((err as LinesConfigError).details).toEqual([
      'line "+14155550100": voice: unknown voice "robot"; expected one of deep-male, neutral-male',
      'line "+14155550100": voices[1]: unknown voice "kazoo"; expected one of deep-male, neutral-male',
    ]);
  });

  it('agents as people: a roster shared by lines, records with their own voice and persona, one id per person', () => {
    const cfg = parseLines(
      `agents:
  alice: { endpoint: "+14155550111", voice: deep-male, persona: stable }
  bob: "sip:bob@pbx.example.com"
lines:
  "+14155550100":
    agents: [alice, bob, { id: carol, endpoint: "client:carol", voice: bright-female }]
    strategy: fewestcalls
    wrapUpS: 0
    maxWaitS: 60
    overflow: "+14155550200"
  "+14155550200":
    agents: [alice, "+14155550113"]
    persona: stable
    screen: false
`,
      FILE,
      defaults,
    );
    const a = cfg.get('+14155550100')!;
    expect(a.agents).toEqual([
      { id: 'alice', endpoint: '+14155550111', voice: 'deep-male', persona: 'stable' },
      { id: 'bob', endpoint: 'sip:bob@pbx.example.com', voice: undefined, persona: undefined },
      { id: 'carol', endpoint: 'client:carol', voice: 'bright-female', persona: undefined },
    ]);
    expect(a).toMatchObject({ strategy: 'fewestcalls', wrapUpS: 0, maxWaitS: 60, overflow: '+14155550200' });
    // One person serves both lines: the same record.
    expect(cfg.get('+14155550200')!.agents[0]).toBe(a.agents[0]);
    expect([...cfg.agents.keys()].sort()).toEqual(['+14155550113', 'alice', 'bob', 'carol']);
    expect(cfg.warnings).toEqual([expect.stringMatching(/^line "\+14155550200": screen: off: an agent's voicemail/)]);
  });

  it('refuses an unmasked path, an unknown overflow line or agent, one endpoint under two ids, and both ring and strategy', () => {
    const out = problems(`agents:
  alice: "+14155550111"
lines:
  "+14155550100":
    agents: [alice, dave, { id: al, endpoint: "+14155550111" }]
    ring: simultaneous
    strategy: linear
    overflow: "+14155550999"
    fallbackTwiml: "<Response><Dial>+14155550199</Dial></Response>"
  "+14155550200":
    agents: [alice]
    fallbackTwiml: "<Response><Say>Hold</Say><Enqueue>support</Enqueue></Response>"
    holdAudio: /srv/hold.ogg
    holdMessageEveryS: 20
`);
    expect(out).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^line "\+14155550100": fallbackTwiml: bridges audio to a phone or a URL .*unmasked path/),
        expect.stringMatching(/^line "\+14155550200": fallbackTwiml: bridges audio/),
        'line "+14155550200": holdAudio: expected the path of a .wav or .mp3 file',
      ]),
    );
    const out2 = problems(`agents:
  alice: "+14155550111"
lines:
  "+14155550100":
    agents: [alice, dave, { id: al, endpoint: "+14155550111" }]
    ring: simultaneous
    strategy: linear
    overflow: "+14155550999"
  "+14155550200":
    agents: [alice]
    holdMessageEveryS: 20
`);
    expect(out2).toEqual([
      'line "+14155550100": agents[1]: "dave" is neither an agent of agents: nor an endpoint (an E.164 number, sip:user@host or client:name)',
      'line "+14155550100": agents[2]: the endpoint of agent "al" is already agent "alice"\'s: one person, one id',
      'line "+14155550100": ring: give either strategy or ring (ring: simultaneous is strategy: ringall)',
      'line "+14155550200": holdMessageEveryS: set holdMessage too',
      'line "+14155550100": overflow: "+14155550999" is not a line of this file',
    ]);
  });

  it('warns about ring times that make no sense', () => {
    const cfg = parseLines(`lines:\n  "+14155550100":\n    agents: ["client:a", "client:b", "client:c"]\n    strategy: linear\n    ringTimeoutS: 10\n    dialTimeoutS: 20\n`, FILE, defaults);
    expect(cfg.warnings).toEqual([
      'line "+14155550100": ringTimeoutS: 10 s is shorter than most people take to answer (15 s or more is usual)',
      'line "+14155550100": dialTimeoutS: 3 agents × ringTimeoutS 10 s is more than dialTimeoutS 20 s: ringing them one after another takes longer than one round of dialling',
    ]);
  });
});
