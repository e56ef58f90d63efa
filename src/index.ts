/**
 * The public entry of the product for the tools (tools/demo, tools/sim, scripts) and anyone
 * embedding the bridge: start it, configure it, log like it. Tools use the product through
 * this module, src/audio/index.ts and the network (HTTP, WebSocket); the lint rules refuse
 * their imports of anything else under src/.
 */
export { startServer, type RunningServer, type ServerExtras } from './compose.js';
export { loadConfig, ConfigError, type Config } from './config/env.js';
export { createLogger, type Logger } from './observability/logger.js';
export { LOCAL_VOICES } from './voice/local/index.js';
export { createTwilioRestClient, type TwilioRestOptions } from './twilio/rest.js';
/** The twilio package's client, as createTwilioRestClient returns it. */
export type TwilioRestClient = ReturnType<typeof import('./twilio/rest.js').createTwilioRestClient>;
