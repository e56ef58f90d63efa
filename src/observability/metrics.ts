/**
 * Prometheus metrics (prom-client), one registry for the process, served at GET /metrics.
 * Counters are named for what they count; labels stay low-cardinality (never a callSid).
 */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const counter = (name: string, help: string, labelNames: string[] = []) =>
  new client.Counter({ name, help, labelNames, registers: [registry] });
const gauge = (name: string, help: string, labelNames: string[] = []) =>
  new client.Gauge({ name, help, labelNames, registers: [registry] });

export const metrics = {
  callsStarted: counter('voicemask_calls_started_total', 'Calls started (a two-party call counts once)'),
  callsActive: gauge('voicemask_calls_active', 'Calls in progress (a two-party call counts once, from its webhook to its end)'),
  callErrors: counter('voicemask_call_errors_total', 'Calls ended by an unexpected error', ['stage']),
  wsRejected: counter('voicemask_ws_rejected_total', 'WebSocket upgrades refused', ['reason']),
  protocolErrors: counter('voicemask_protocol_errors_total', 'Inbound Media Streams messages refused', ['reason']),
  wsClosed: counter('voicemask_ws_closed_total', 'Connections closed by the bridge', ['reason']),
  phrases: counter('voicemask_phrases_total', 'Phrases detected', ['outcome']),
  conversions: counter('voicemask_conversions_total', 'Conversions by result', ['converter', 'result']),
  conversionLatency: new client.Histogram({
    name: 'voicemask_first_audio_seconds',
    help: 'From end of phrase to first converted byte',
    buckets: [0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5],
    registers: [registry],
  }),
  framesOut: counter('voicemask_frames_out_total', 'Masked audio frames sent to Twilio'),
  clears: counter('voicemask_clears_total', 'Playback buffers cleared on barge-in'),
  httpRejected: counter('voicemask_http_rejected_total', 'HTTP requests refused', ['reason']),
  // The resilience wrappers around ElevenLabs (src/voice/resilience), written only from their events
  // (src/voice/resilience/metrics.ts). kind and reason are error policy labels (src/voice/errors.ts).
  conversionAttempts: counter('voicemask_conversion_attempts_total', 'Requests sent to the primary converter', ['converter']),
  conversionRetries: counter('voicemask_conversion_retries_total', 'Phrase conversions retried', ['converter', 'kind']),
  staleDrops: counter('voicemask_conversion_stale_total', 'Phrases given up as too old for the lag budget', ['converter', 'where']),
  fallbacks: counter('voicemask_conversion_fallbacks_total', 'Phrases sent to the fallback converter', ['converter', 'reason']),
  truncated: counter('voicemask_conversion_truncated_total', 'Phrases cut short by a failure after the first byte', ['converter']),
  dropped: counter('voicemask_conversion_dropped_total', 'Phrases that produced no audio', ['converter', 'kind']),
  circuitTransitions: counter('voicemask_circuit_transitions_total', 'Converter circuit state changes', ['converter', 'to']),
  stalls: counter('voicemask_conversion_stalls_total', 'Answers that stopped mid-phrase (no byte within ELEVENLABS_IDLE_TIMEOUT_MS)', ['converter']),
  authFailures: counter('voicemask_converter_auth_failures_total', 'Circuit openings on a refused key, by cause (quota_exceeded, invalid_api_key, needs_authorization, ...)', ['converter', 'cause']),
  circuitOpen: gauge('voicemask_circuit_open', '1 while the converter circuit is open or half-open', ['converter']),
  // The ElevenLabs concurrency limit: scope instance from the resilience events, scope pool and
  // fallback (and the slot waits of the shared pool) from the fleet's limiter (src/fleet/).
  slotsInFlight: gauge('voicemask_elevenlabs_slots_in_flight', 'ElevenLabs requests holding a slot: this instance, or the whole pool sharing REDIS_URL', ['scope']),
  slotsWaiting: gauge('voicemask_elevenlabs_slots_waiting', 'Phrases waiting for an ElevenLabs slot: this instance, or the whole pool', ['scope']),
  slotWait: new client.Histogram({
    name: 'voicemask_elevenlabs_slot_wait_seconds',
    help: 'Time a phrase waited for an ElevenLabs slot, by where the slot came from (local, redis, fallback share)',
    labelNames: ['source'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [registry],
  }),
  concurrencyLimit: gauge('voicemask_elevenlabs_concurrency_limit', 'Concurrent ElevenLabs requests allowed now (configured, capped by the account and by recent 429s); scope fallback: this instance\'s share while Redis is away', ['scope']),
  accountConcurrency: gauge('voicemask_elevenlabs_account_concurrency', 'What ElevenLabs last reported: maximum-concurrent-requests (max) and current-concurrent-requests (current)', ['kind']),
  concurrencyRefusals: counter('voicemask_elevenlabs_concurrency_429_total', '429 too_many_concurrent_requests answers (the phrase queued again; not a fault of the service)'),
  leasesExpired: counter('voicemask_elevenlabs_leases_expired_total', 'Slots of the shared pool freed by lease expiry (an instance died or stalled while holding them)'),
  elevenLabsVoices: gauge('voicemask_elevenlabs_voices', 'Voices the configuration names, by what ElevenLabs said of them: found, unknown (no such voice for the key: its phrases are not converted by ElevenLabs), unchecked (no answer yet)', ['state']),
  fleetInstances: gauge('voicemask_fleet_instances', 'Live instances sharing the Redis pool, as last seen'),
  redisUp: gauge('voicemask_limiter_redis_up', '1 while the shared limiter reaches Redis, 0 while it runs on its per-instance share'),
  redisFallbacks: counter('voicemask_limiter_fallback_total', 'Slots taken from the per-instance share because Redis was unreachable or slow', ['reason']),
  // Contact lines (label `line`: the dialled number, an operator's own configuration).
  lineCalls: gauge('voicemask_line_calls', 'Calls of a line by state: queued (waiting for an agent), ringing (agents dialled), connected', ['line', 'state']),
  lineQueueWait: new client.Histogram({
    name: 'voicemask_line_queue_wait_seconds',
    help: 'Time a caller waited from joining the queue until an agent was connected',
    labelNames: ['line'],
    buckets: [1, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [registry],
  }),
  lineAbandoned: counter('voicemask_line_abandoned_total', 'Callers who hung up while waiting for an agent', ['line']),
  lineOverflow: counter('voicemask_line_overflow_total', 'Callers who waited maxWaitS: moved to the overflow line (line) or given the message (message)', ['line', 'to']),
  lineDialOutcomes: counter('voicemask_line_dial_outcomes_total', 'Agent calls by outcome: accepted, busy, no-answer, ring-timeout, not-accepted, failed, rest-error, canceled, hung-up', ['line', 'outcome']),
  lineTimeToAnswer: new client.Histogram({
    name: 'voicemask_line_time_to_answer_seconds',
    help: 'Time from placing an agent call to Twilio answering it',
    labelNames: ['line'],
    buckets: [1, 2, 5, 10, 15, 20, 30, 60],
    registers: [registry],
  }),
  lineCallDuration: new client.Histogram({
    name: 'voicemask_line_call_duration_seconds',
    help: 'Connected time of a line call (agent and caller talking)',
    labelNames: ['line'],
    buckets: [10, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [registry],
  }),
  catchUps: counter('voicemask_playout_catch_ups_total', 'Listeners who spoke over a long backlog of a person\'s speech: the backlog played faster, nothing dropped'),
  engineCpu: counter('voicemask_engine_cpu_seconds_total', "Time the embedded engine's DSP ran on the event loop (streaming frames and phrase blocks): its CPU, as a rate a share of one core"),
  linesReloads: counter('voicemask_lines_reloads_total', 'Reloads of the lines file by result (ok, invalid: the old file stays)', ['result']),
};
