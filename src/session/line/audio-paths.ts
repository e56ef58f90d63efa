/**
 * The two masked directions of a connected two-party call, each writing into the other leg's
 * connection clock:
 *   agent    -> the profile's converter                        -> the customer's connection
 *   customer -> passthrough (mask: agent) or the converter     -> the agent's connection
 * Barge-in belongs to the listener: a leg's speech may clear only what that leg is hearing,
 * never its own words on their way to the other side. Each direction writes only to its own
 * call's connections: nothing crosses between calls.
 */
import { frameConverter } from '../../pipeline/frame-adapter.js';
import { MaskedDirection } from '../../pipeline/masked-direction.js';
import type { MaskingProfile } from '../../pipeline/profile.js';
import type { PlayoutOptions } from '../../twilio/media-out.js';
import { openPassthroughFrames } from '../../voice/passthrough.js';
import type { Leg } from './leg.js';
import type { LineConfig } from './lines-file.js';

export interface AudioPaths {
  /** What the customer hears: the agent's voice, masked. */
  toCustomer: MaskedDirection;
  /** What the agent hears. */
  toAgent: MaskedDirection;
}

const passthrough = frameConverter('passthrough', openPassthroughFrames);

/** A person's words are never dropped: a listener speaking over a long backlog makes it play faster. */
export function personPlayout(profile: MaskingProfile): PlayoutOptions {
  return { ...profile.playout, overBacklog: 'catch-up' };
}

export interface LegsOptions {
  profile: MaskingProfile;
  line: LineConfig;
  customer: Leg;
  agent: Leg;
  signal: AbortSignal;
  /** The agent's masked voice. */
  agentVoice: string;
  /** A stable persona: the agent masks with this seed and no per-phrase variation, on every call. */
  agentPersonaSeed?: number;
}

export function connectLegs(o: LegsOptions): AudioPaths {
  const { profile, line, customer, agent, signal } = o;
  // The customer's connection already plays (hold audio): its clock goes on with the agent's voice.
  const customerOut = customer.conn.output ?? customer.conn.openOutput(personPlayout(profile));
  // Passthrough: frame by frame, 20 ms chunks, never cleared: nothing is held back.
  const unmasked = line.mask === 'agent';
  const agentOut = agent.conn.openOutput(unmasked ? profile.passthroughPlayout : personPlayout(profile));
  const toCustomer = new MaskedDirection({
    converter: profile.converter,
    output: customerOut,
    voiceId: o.agentVoice,
    callKey: agent.callSid,
    ...(o.agentPersonaSeed !== undefined && { persona: { seed: o.agentPersonaSeed } }),
    signal,
    log: agent.log,
    segmenter: profile.segmenter,
    // The agent talking over what the customer said clears the customer's words queued for the agent.
    onSpeechStart: () => agentOut.bargeIn(),
  });
  const toAgent = new MaskedDirection({
    converter: unmasked ? passthrough : profile.converter,
    output: agentOut,
    voiceId: line.customerVoice ?? profile.voices.defaultVoiceId,
    callKey: customer.callSid,
    signal,
    log: customer.log,
    segmenter: profile.segmenter,
    // The customer talking over a long backlog of the agent's masked answer clears it.
    onSpeechStart: () => customerOut.bargeIn(),
  });
  return { toCustomer, toAgent };
}
