/** Why a simulated call could not run, in terms a CLI can print and a test can assert on. */
export type SimulatorErrorKind =
  | 'connect-refused' // nothing listening at the bridge URL (or DNS failure)
  | 'webhook-status' // the webhook answered non-2xx (status set)
  | 'bad-twiml' // the webhook body is not TwiML with <Connect><Stream url>
  | 'upgrade-rejected' // the WebSocket handshake did not answer 101 (status set)
  | 'websocket-error' // the socket failed otherwise
  | 'input-missing' // audio file not found
  | 'input-unsupported'; // audio file in a format we cannot decode

export class SimulatorError extends Error {
  override name = 'SimulatorError';
  constructor(
    readonly kind: SimulatorErrorKind,
    message: string,
    readonly status?: number,
    readonly body?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
