/** Shared set-up for whole-call tests: a real bridge on loopback with captured logs. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/observability/logger.js';
import { startServer, type RunningServer, type ServerExtras } from '../../src/compose.js';

export interface Bridge extends RunningServer {
  /** Every log line the bridge wrote, as parsed JSON. */
  logs: Array<Record<string, unknown>>;
  rawLogs: string[];
}

export async function startBridge(env: Record<string, string> = {}, extras: Omit<ServerExtras, 'logger'> = {}): Promise<Bridge> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'debug', ...env });
  const rawLogs: string[] = [];
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) {
        if (!line) continue;
        rawLogs.push(line);
        logs.push(JSON.parse(line) as Record<string, unknown>);
      }
      cb();
    },
  });
  const server = await startServer(config, { ...extras, logger: createLogger(config.LOG_LEVEL, sink) });
  return Object.assign(server, { logs, rawLogs });
}

/** Counts log lines whose msg matches. */
export const logCount = (b: Bridge, re: RegExp) => b.logs.filter((l) => re.test(String(l.msg))).length;

/**
 * A bridge serving two-party lines: the embedded engine, `lines` (YAML, or JSON with a .json
 * fileName) written to a temp file as LINES_CONFIG, REST calls going to the loopback fake Twilio.
 */
export async function startLineBridge(
  fake: { accountSid: string; authToken: string; url: string },
  lines: string,
  env: Record<string, string> = {},
  fileName = 'lines.yaml',
): Promise<Bridge & { linesFile: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'lines-'));
  const linesFile = path.join(dir, fileName);
  writeFileSync(linesFile, lines);
  const b = await startBridge({
    CONVERTER: 'local',
    LINES_CONFIG: linesFile,
    TWILIO_ACCOUNT_SID: fake.accountSid,
    TWILIO_AUTH_TOKEN: fake.authToken,
    TWILIO_API_BASE_URL: fake.url,
    ...env,
  });
  return Object.assign(b, { linesFile });
}

/**
 * A form POST with any headers, Host included (fetch does not let a request name another
 * Host): a webhook as it reaches the bridge through a proxy.
 */
export function postForm(url: string, headers: Record<string, string>, form: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
    req.on('response', (r) => {
      let text = '';
      r.setEncoding('utf8');
      r.on('data', (c: string) => (text += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(new URLSearchParams(form).toString());
  });
}

/** Polls `get` every 20 ms until it gives a value; fails naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, get: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = get();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
