/**
 * Points a Twilio phone number's voice webhook at the bridge.
 *
 *   npm run twilio:configure -- --number +15551234567 --url https://voice.example.com [--dry-run]
 *     [--path /twiml/inbound] [--api-base https://api.twilio.com]
 *
 * Credentials: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN. TWILIO_API_BASE_URL (or --api-base)
 * sends the REST calls elsewhere (a proxy, or a local fake in tests).
 */
import dotenv from 'dotenv';
import { parseArgs } from 'node:util';
import { createTwilioRestClient } from '../src/index.js';
import { configureVoiceUrl } from '../tools/twilio/configure.js';

dotenv.config({ quiet: true });

const USAGE = 'usage: npm run twilio:configure -- --number +1XXXXXXXXXX --url https://public.host [--dry-run] [--path /twiml/inbound] [--api-base URL]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      number: { type: 'string' },
      url: { type: 'string' },
      path: { type: 'string', default: '/twiml/inbound' },
      'dry-run': { type: 'boolean', default: false },
      'api-base': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.number || !values.url) {
    console.error(`error: --number and --url are required\n${USAGE}`);
    return 2;
  }
  const accountSid = process.env['TWILIO_ACCOUNT_SID'];
  const authToken = process.env['TWILIO_AUTH_TOKEN'];
  if (!accountSid || !/^AC[0-9a-fA-F]{32}$/.test(accountSid)) {
    console.error('error: set TWILIO_ACCOUNT_SID (AC followed by 32 hex digits)');
    return 2;
  }
  if (!authToken) {
    console.error('error: set TWILIO_AUTH_TOKEN');
    return 2;
  }
  const baseUrl = values['api-base'] ?? (process.env['TWILIO_API_BASE_URL'] || undefined);
  const client = createTwilioRestClient({ accountSid, authToken, ...(baseUrl ? { baseUrl } : {}) });
  const c = await configureVoiceUrl(client, { number: values.number, url: values.url, path: values.path, dryRun: values['dry-run'] });
  const old = `${c.before.voiceMethod || '-'} ${c.before.voiceUrl || '(none)'}`;
  const neu = `${c.after.voiceMethod} ${c.after.voiceUrl}`;
  if (!c.changed) console.log(`${c.phoneNumber} (${c.sid}): voice webhook already ${neu}; nothing to change`);
  else if (c.dryRun) console.log(`${c.phoneNumber} (${c.sid}): would change voice webhook ${old} -> ${neu} (dry run, nothing changed)`);
  else console.log(`${c.phoneNumber} (${c.sid}): voice webhook ${old} -> ${neu}`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const e = err as { status?: number; code?: number; message?: string };
    const detail = e.status ? ` (HTTP ${e.status}${e.code ? `, Twilio error ${e.code}` : ''})` : '';
    console.error(`error: ${e.message ?? String(err)}${detail}`);
    process.exit(1);
  },
);
