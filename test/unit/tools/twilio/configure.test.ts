import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTwilioRestClient, redirectUri } from '../../../../src/twilio/rest.js';
import { configureVoiceUrl } from '../../../../tools/twilio/configure.js';
import { startFakeTwilioRest, twilioError, type FakeTwilioRest } from '../../../../tools/fakes/fake-twilio-rest.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

let fake: FakeTwilioRest;
beforeEach(async () => {
  fake = await startFakeTwilioRest({
    numbers: [
      { phone_number: '+15551230001', voice_url: 'https://old.example.com/voice', voice_method: 'GET' },
      { phone_number: '+15551230002', voice_url: 'https://voice.example.com/twiml/inbound', voice_method: 'POST' },
    ],
  });
});
afterEach(() => fake.close());

const client = () => createTwilioRestClient({ accountSid: fake.accountSid, authToken: fake.authToken, baseUrl: fake.url });

describe('twilio REST client pointed at the fake', () => {
  it('rewrites api.twilio.com URLs onto the base, keeping path and query', () => {
    expect(redirectUri('https://api.twilio.com/2010-04-01/Accounts/AC1/Calls.json?PageSize=50', 'http://127.0.0.1:9/prefix/')).toBe(
      'http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Calls.json?PageSize=50',
    );
  });

  it('sets the voice URL of the number (POST) and reports old -> new', async () => {
    const c = await configureVoiceUrl(client(), { number: '+15551230001', url: 'https://voice.example.com/' });
    expect(c).toMatchObject({
      phoneNumber: '+15551230001',
      before: { voiceUrl: 'https://old.example.com/voice', voiceMethod: 'GET' },
      after: { voiceUrl: 'https://voice.example.com/twiml/inbound', voiceMethod: 'POST' },
      changed: true,
      dryRun: false,
    });
    expect(fake.numbers[0]).toMatchObject({ voice_url: 'https://voice.example.com/twiml/inbound', voice_method: 'POST' });
    expect(fake.numbers[1]!.voice_url).toBe('https://voice.example.com/twiml/inbound'); // untouched
    const [list, update] = fake.requests;
    expect(list).toMatchObject({ method: 'GET', path: `/2010-04-01/Accounts/${fake.accountSid}/IncomingPhoneNumbers.json`, query: { PhoneNumber: '+15551230001' } });
    expect(list!.username).toBe(fake.accountSid);
    expect(update).toMatchObject({ method: 'POST', path: `/2010-04-01/Accounts/${fake.accountSid}/IncomingPhoneNumbers/${fake.numbers[0]!.sid}.json` });
    expect(update!.form).toEqual({ VoiceUrl: 'https://voice.example.com/twiml/inbound', VoiceMethod: 'POST' });
  });

  it('dry run changes nothing; an already-correct number is left alone', async () => {
    const dry = await configureVoiceUrl(client(), { number: '+15551230001', url: 'https://voice.example.com', dryRun: true });
    expect(dry).toMatchObject({ changed: true, dryRun: true, after: { voiceUrl: 'https://voice.example.com/twiml/inbound' } });
    expect(fake.numbers[0]!.voice_url).toBe('https://old.example.com/voice');
    const same = await configureVoiceUrl(client(), { number: '+15551230002', url: 'https://voice.example.com' });
    expect(same.changed).toBe(false);
    expect(fake.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
  });

  it('fails clearly for an unknown number and for bad credentials', async () => {
    await expect(configureVoiceUrl(client(), { number: '+15550000000', url: 'https://v.example.com' })).rejects.toThrow(/not an incoming number/);
    const bad = createTwilioRestClient({ accountSid: fake.accountSid, authToken: 'wrong', baseUrl: fake.url });
    await expect(configureVoiceUrl(bad, { number: '+15551230001', url: 'https://v.example.com' })).rejects.toMatchObject({ status: 401, code: 20003 });
  });

  it('records Calls create/update and serves scripted answers', async () => {
    const c = client();
    const call = await c.calls.create({ to: '+15551230001', from: '+15551230002', twiml: '<Response><Pause length="1"/></Response>' });
    expect(call.sid).toMatch(/^CA[0-9a-f]{32}$/);
    expect(call.status).toBe('queued');
    const done = await c.calls(call.sid).update({ status: 'completed' });
    expect(done.status).toBe('completed');
    expect(fake.calls[0]).toMatchObject({ to: '+15551230001', status: 'completed', twiml: '<Response><Pause length="1"/></Response>' });
    fake.on('POST', /\/Calls\.json$/, () => twilioError(429, 20429, 'Too Many Requests'));
    await expect(c.calls.create({ to: '+1', from: '+2', url: 'https://x' })).rejects.toMatchObject({ status: 429 });
  });
});

describe('npm run twilio:configure', () => {
  const env = () => ({ ...process.env, TWILIO_ACCOUNT_SID: fake.accountSid, TWILIO_AUTH_TOKEN: fake.authToken, TWILIO_API_BASE_URL: fake.url });

  it('--dry-run prints the change without making it, then a real run makes it', async () => {
    const args = [path.join(ROOT, 'scripts/twilio-configure.ts'), '--number', '+15551230001', '--url', 'https://voice.example.com'];
    const dry = await run(TSX, [...args, '--dry-run'], { env: env(), cwd: ROOT });
    expect(dry.stdout).toContain('would change voice webhook GET https://old.example.com/voice -> POST https://voice.example.com/twiml/inbound');
    expect(fake.numbers[0]!.voice_url).toBe('https://old.example.com/voice');
    const real = await run(TSX, args, { env: env(), cwd: ROOT });
    expect(real.stdout).toContain('+15551230001');
    expect(real.stdout).toContain('voice webhook GET https://old.example.com/voice -> POST https://voice.example.com/twiml/inbound');
    expect(fake.numbers[0]!.voice_url).toBe('https://voice.example.com/twiml/inbound');
  });

  it('exits non-zero with the Twilio error on bad credentials', async () => {
    const err = await run(TSX, [path.join(ROOT, 'scripts/twilio-configure.ts'), '--number', '+15551230001', '--url', 'https://v.example.com'], {
      env: { ...env(), TWILIO_AUTH_TOKEN: 'nope' },
      cwd: ROOT,
    }).catch((e: unknown) => e as { code: number; stderr: string });
    expect(err).toMatchObject({ code: 1 });
    expect((err as { stderr: string }).stderr).toMatch(/HTTP 401/);
  });
});
