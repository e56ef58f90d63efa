/**
 * The ElevenLabs voices the configuration names (ELEVENLABS_VOICE_ID, each line's voice,
 * customerVoice and voices, each agent's voice), checked against the account at start-up and
 * before a reload of the lines file (src/voice/elevenlabs/voices.ts): a voice ElevenLabs does not
 * know refuses the start (or the reload) naming the variable, or the line or agent and field;
 * ElevenLabs not answering is a warning, and the voices are looked up again in the background.
 */
import { ConfigError, type Config } from '../config/env.js';
import type { Logger } from '../observability/logger.js';
import { metrics } from '../observability/metrics.js';
import type { LinesConfig } from '../session/line/index.js';
import { ElevenLabsVoices, VoiceLookup, type VoiceRef } from '../voice/elevenlabs/index.js';

/** Every voice a lines file names, with where (file, line or agent, field). */
export function lineVoiceRefs(lines: LinesConfig): VoiceRef[] {
  const refs: VoiceRef[] = [];
  const at = (where: string, voiceId: string | undefined) => {
    if (voiceId !== undefined) refs.push({ voiceId, where: `LINES_CONFIG ${lines.file}: ${where}` });
  };
  for (const l of lines.lines.values()) {
    at(`line "${l.number}": voice`, l.voice);
    at(`line "${l.number}": customerVoice`, l.customerVoice);
    for (const [i, v] of (l.voices ?? []).entries()) at(`line "${l.number}": voices[${i}]`, v);
    for (const [i, a] of l.agents.entries()) at(`line "${l.number}": agents[${i}] (agent "${a.id}"): voice`, a.voice);
  }
  return refs;
}

/** The voices of the environment and of the lines file (if any). */
export function configuredVoiceRefs(config: Config, lines: LinesConfig | undefined): VoiceRef[] {
  return [{ voiceId: config.ELEVENLABS_VOICE_ID, where: 'ELEVENLABS_VOICE_ID' }, ...(lines ? lineVoiceRefs(lines) : [])];
}

export interface VoiceCheck {
  voices: ElevenLabsVoices;
  close(): Promise<void>;
}

/** The account's voices, looked up with ELEVENLABS_API_KEY at ELEVENLABS_BASE_URL. */
export function createVoiceCheck(config: Config, log: Logger): VoiceCheck {
  // Long enough for a slow connection and answer, as a conversion's first byte is given.
  const waitMs = config.ELEVENLABS_CONNECT_TIMEOUT_MS + config.ELEVENLABS_FIRST_BYTE_TIMEOUT_MS;
  const lookup = new VoiceLookup({ apiKey: config.ELEVENLABS_API_KEY ?? '', baseUrl: config.ELEVENLABS_BASE_URL, connectTimeoutMs: config.ELEVENLABS_CONNECT_TIMEOUT_MS, timeoutMs: waitMs });
  const voices = new ElevenLabsVoices({
    lookUp: (id, signal) => lookup.get(id, signal),
    log: log.child({ component: 'elevenlabs-voices' }),
    waitMs,
    onCounts: (c) => {
      for (const [state, n] of Object.entries(c)) metrics.elevenLabsVoices.set({ state }, n);
    },
  });
  return {
    voices,
    async close() {
      await voices.close();
      await lookup.close();
    },
  };
}

/**
 * Checks `refs`; throws a ConfigError listing every reference to an unknown voice. Voices
 * ElevenLabs did not answer for are a warning and are looked up again in the background.
 */
export async function checkVoices(voices: ElevenLabsVoices, refs: VoiceRef[], log: Logger, what: 'start' | 'reload'): Promise<void> {
  const r = await voices.check(refs);
  if (r.unknown.length) throw new ConfigError(r.unknown);
  voices.use(refs);
  const ids = new Set(refs.map((x) => x.voiceId));
  if (r.unchecked.length) {
    log.warn(
      { unchecked: [...new Set(r.unchecked.map((x) => x.voiceId))], where: r.unchecked.map((x) => x.where) },
      `ElevenLabs did not answer the voice check at ${what === 'start' ? 'start-up' : 'reload'}: going on; the voices are checked again in the background until it answers`,
    );
  } else log.info({ voices: ids.size }, 'ElevenLabs voices checked: every configured voice exists');
}
