/** The two-party lines' settings, resolved from the configuration in the composition root. */
import type { LineSettings } from '../session/line/index.js';
import type { Config } from '../config/env.js';

export function lineSettings(c: Config): LineSettings {
  return {
    linesFile: c.LINES_CONFIG,
    mask: c.MASK,
    dialTimeoutS: c.AGENT_DIAL_TIMEOUT,
    roomSecret: c.LINE_ROOM_SECRET,
    authToken: c.TWILIO_AUTH_TOKEN,
    publicUrl: c.PUBLIC_URL,
    instanceUrl: c.INSTANCE_URL,
    agentVoiceKeys: c.AGENT_DTMF_VOICE_CYCLE,
    dialCps: c.DIAL_CPS,
    rest: { accountSid: c.TWILIO_ACCOUNT_SID, authToken: c.TWILIO_AUTH_TOKEN, baseUrl: c.TWILIO_API_BASE_URL },
  };
}
