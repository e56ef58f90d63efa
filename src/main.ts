/**
 * The process: configuration (a bad value exits 1 with a message), the logger, the server
 * (built by the composition root, compose.ts), signals and graceful shutdown, exit codes and
 * uncaught errors.
 */
import { watch } from 'node:fs';
import 'dotenv/config';
import { ConfigError, configWarnings, loadConfig } from './config/env.js';
import { createLogger } from './observability/logger.js';
import { metrics } from './observability/metrics.js';
import { startServer } from './compose.js';

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
  for (const w of configWarnings(config)) log.warn(w);
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
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      process.stderr.write(`voice-mask: cannot listen on ${config.HOST}:${config.PORT}: the host name ${config.HOST} does not resolve. Set HOST to an address of this machine (0.0.0.0 for all).\n`);
      process.exit(1);
    }
    throw err;
  }
  log.info(
    {
      url: running.url,
      publicUrl: config.PUBLIC_URL ?? '(derived from Host / X-Forwarded-* headers)',
      engine: running.profile.engine,
      mode: running.profile.mode,
      voice: running.profile.voices.defaultVoiceId,
      fallback: config.converter === 'elevenlabs' ? config.FALLBACK : undefined,
    },
    config.converter === 'elevenlabs'
      ? 'voice-mask ready: masking with ElevenLabs speech-to-speech'
      : 'voice-mask ready: masking with the embedded offline engine (no ELEVENLABS_API_KEY)',
  );

  // Shutdown: stop taking calls (/readyz 503), let active calls finish up to DRAIN_TIMEOUT, exit.
  let stopping = false;
  const stop = async (why: string, exitCode: number) => {
    if (exitCode !== 0) process.exitCode = exitCode; // kept even if a signal comes during the drain
    if (stopping) return;
    stopping = true;
    log.info({ why, activeCalls: running.calls.activeCalls, drainTimeoutS: config.DRAIN_TIMEOUT }, 'shutting down: not taking new calls, letting active calls finish');
    // A drain that itself hangs must not keep a broken process alive.
    setTimeout(() => {
      log.error('drain did not finish in time: exiting');
      process.exit(process.exitCode ?? 1);
    }, (config.DRAIN_TIMEOUT + 10) * 1000).unref();
    const { remaining } = await running.shutdown(config.DRAIN_TIMEOUT * 1000);
    log.info({ cutOff: remaining, exitCode: process.exitCode ?? 0 }, 'shutdown complete');
    process.exit(process.exitCode ?? 0);
  };
  // SIGHUP (and, with LINES_WATCH, a change of the file) reloads the lines file: new calls use
  // it, calls in progress keep their settings; a file with problems is refused and the old one stays.
  const reload = (why: string) => {
    if (!config.LINES_CONFIG || stopping) return;
    log.info({ why }, 'reloading the lines file');
    void running.reloadLines();
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (config.LINES_CONFIG && config.LINES_WATCH) {
    let debounce: NodeJS.Timeout | undefined;
    watch(config.LINES_CONFIG, () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => reload('file changed'), 500);
    }).unref();
  }
  process.on('SIGTERM', () => void stop('SIGTERM', 0));
  process.on('SIGINT', () => void stop('SIGINT', 0));
  // Per-call work is isolated (its own state, its own try/catch); a stray rejection from a
  // timer or a library callback is logged and counted.
  process.on('unhandledRejection', (reason) => {
    metrics.callErrors.inc({ stage: 'unhandled-rejection' });
    log.error({ err: reason }, 'unhandled promise rejection');
  });
  // After an uncaught exception the process is in an unknown state (Node says so): it is
  // logged and counted, the instance leaves the balancer (/readyz 503) and drains its calls
  // (they are not cut at once), then exits 1 so that its supervisor restarts it.
  process.on('uncaughtException', (err, origin) => {
    metrics.callErrors.inc({ stage: 'uncaught-exception' });
    log.fatal({ err, origin, activeCalls: running.calls.activeCalls }, 'uncaught exception: draining the active calls, then exiting 1 for a restart');
    void stop('uncaught exception', 1).catch(() => process.exit(1));
  });
}

main().catch((err) => {
  process.stderr.write(`voice-mask failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
