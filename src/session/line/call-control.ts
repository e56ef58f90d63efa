/**
 * The Twilio REST calls a two-party line makes: dial an agent, cancel a dial, hang up a leg,
 * replace a leg's TwiML (the no-answer message). Built on the twilio package's client; with
 * TWILIO_API_BASE_URL every request goes to that base instead of https://api.twilio.com
 * (a local fake in tests, a proxy in some deployments). The twilio package retries nothing
 * by itself here: a failed hang-up is logged and the stream is closed anyway.
 *
 * Only dial() throws: the room needs to know an agent could not be called. The others log
 * and return false: a leg that is already gone is not an error worth more than a warning.
 */
import type twilio from 'twilio';
import { ConfigError } from '../../config/env.js';
import type { Logger } from '../../observability/logger.js';
import { maskPhonesIn } from '../../observability/logger.js';
import { createTwilioRestClient } from '../../twilio/rest.js';

export interface DialRequest {
  to: string;
  from: string;
  /** Webhook Twilio fetches the agent's TwiML from once the agent answers. */
  url: string;
  statusCallback: string;
  /** Seconds to let it ring. */
  timeoutS: number;
}

export interface CallControl {
  /** Places the call; resolves with its CallSid. */
  dial(req: DialRequest): Promise<string>;
  /** A call not answered yet: stop ringing (falls back to ending it if it was answered meanwhile). */
  cancel(callSid: string): Promise<boolean>;
  /** Ends a call in progress. */
  hangUp(callSid: string): Promise<boolean>;
  /** Replaces what the call is doing with this TwiML (ends its stream). */
  redirect(callSid: string, twiml: string): Promise<boolean>;
}

type TwilioClient = twilio.Twilio;
/** What calls(sid).update() takes, from the package's public client type (no deep import). */
type CallContextUpdateOptions = Parameters<ReturnType<TwilioClient['calls']>['update']>[0];

/** The REST client, pointed at TWILIO_API_BASE_URL when set (the same redirect the simulator's tools use). */
export function createTwilioClient(rest: { accountSid: string | undefined; authToken: string | undefined; baseUrl: string | undefined }): TwilioClient {
  const problems: string[] = [];
  if (!rest.accountSid) problems.push('TWILIO_ACCOUNT_SID: required when LINES_CONFIG is set (the bridge places the agent calls)');
  if (!rest.authToken) problems.push('TWILIO_AUTH_TOKEN: required when LINES_CONFIG is set (REST calls and webhook signatures)');
  if (problems.length || !rest.accountSid || !rest.authToken) throw new ConfigError(problems);
  return createTwilioRestClient({ accountSid: rest.accountSid, authToken: rest.authToken, baseUrl: rest.baseUrl });
}

const describe = (err: unknown) => {
  const e = err as { status?: number; code?: number; message?: string };
  return { status: e.status, code: e.code, message: maskPhonesIn(String(e.message ?? err)) };
};

export function twilioCallControl(client: TwilioClient, log: Logger): CallControl {
  const update = async (callSid: string, params: CallContextUpdateOptions, what: string): Promise<boolean> => {
    try {
      await client.calls(callSid).update(params);
      return true;
    } catch (err) {
      log.warn({ callSid, ...describe(err) }, `REST: could not ${what}`);
      return false;
    }
  };
  return {
    async dial(req) {
      const call = await client.calls.create({
        to: req.to,
        from: req.from,
        url: req.url,
        method: 'POST',
        statusCallback: req.statusCallback,
        statusCallbackMethod: 'POST',
        statusCallbackEvent: ['answered', 'completed'],
        timeout: req.timeoutS,
      });
      return call.sid;
    },
    async cancel(callSid) {
      // 'canceled' only applies to a call still queued or ringing; one answered meanwhile is ended.
      try {
        await client.calls(callSid).update({ status: 'canceled' });
        return true;
      } catch {
        return update(callSid, { status: 'completed' }, 'cancel the agent call');
      }
    },
    hangUp: (callSid) => update(callSid, { status: 'completed' }, 'hang up the other leg'),
    redirect: (callSid, twiml) => update(callSid, { twiml }, 'redirect the call'),
  };
}
