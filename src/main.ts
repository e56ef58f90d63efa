/**
 * Composition root: configuration, logging, the server, and graceful shutdown.
 */
import 'dotenv/config';
import { ConfigError, loadConfig } from './config/env.js';
import { createLogger } from './observability/logger.js';
import { metrics } from './observability/metrics.js';
import { startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`voice-mask: ${err.message}\nSee .env.example and README.md for every variable.\n`);
      process.exit(1);
    }
    throw err;
  }
  const log = createLogger(config.LOG_LEVEL);
  if (!config.TWILIO_AUTH_TOKEN) {
    log.warn(
      '!!! TWILIO_AUTH_TOKEN is not set: webhook and WebSocket signatures are NOT checked. Anyone who finds this URL can open streams. Set it before taking real calls. !!!',
    );
  }
  let running;
  try {
    running = await startServer(config, { logger: log });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`voice-mask: ${err.message}\n`);
      process.exit(1);
    }
    const code = (err as { code?: string }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why = code === 'EADDRINUSE' ? 'is already in use' : code === 'EACCES' ? 'needs privileges' : 'is not an address of this machine';
      process.stderr.write(`voice-mask: cannot listen on ${config.HOST}:${config.PORT}: that port ${why}. Set PORT (and HOST) to another value.\n`);
      process.exit(1);
    }
    throw err;
  }
  log.info(
    {
      url: running.url,
      publicUrl: config.PUBLIC_URL ?? '(derived from Host / X-Forwarded-* headers)',
      engine: running.masking.engine,
      mode: running.masking.mode().kind,
      voice: running.masking.voices.defaultVoiceId,
      fallback: config.converter === 'elevenlabs' ? config.FALLBACK : undefined,
    },
    config.converter === 'elevenlabs'
      ? 'voice-mask ready: masking with ElevenLabs speech-to-speech'
      : 'voice-mask ready: masking with the embedded offline engine (no ELEVENLABS_API_KEY)',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, activeCalls: running.calls.activeCalls, drainTimeoutS: config.DRAIN_TIMEOUT }, 'shutting down: not taking new calls, letting active calls finish');
    const { remaining } = await running.shutdown(config.DRAIN_TIMEOUT * 1000);
    log.info({ cutOff: remaining }, 'shutdown complete');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  // Per-call work is isolated (its own state, its own try/catch); a stray error from a timer or
  // a library callback is logged and counted rather than dropping every call in progress.
  process.on('unhandledRejection', (reason) => {
    metrics.callErrors.inc({ stage: 'unhandled-rejection' });
    log.error({ err: reason }, 'unhandled promise rejection');
  });
  process.on('uncaughtException', (err) => {
    metrics.callErrors.inc({ stage: 'uncaught-exception' });
    log.error({ err }, 'uncaught exception: logged, the other calls continue');
  });
}

main().catch((err) => {
  process.stderr.write(`voice-mask failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
