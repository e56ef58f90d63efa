/**
 * The built bridge (dist/main.js) as its own process, for load scripts: started on a free
 * loopback port, waited for, and read through its own /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface BridgeProcess {
  url: string;
  child: ChildProcess;
  stop(): void;
}

/** A free loopback TCP port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts dist/main.js with only `env` (plus PATH) and waits until /healthz answers. */
export async function startBridgeProcess(env: Record<string, string>): Promise<BridgeProcess> {
  const main = path.join(ROOT, 'dist/main.js');
  if (!existsSync(main)) throw new Error('dist/main.js is missing: run `npm run build` first');
  const port = await freePort();
  const child = spawn(process.execPath, [main], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', TWILIO_AUTH_TOKEN: '', LOCAL_API: 'false', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; !(await fetch(`${url}/healthz`).then((r) => r.ok, () => false)); i++) {
    if (child.exitCode !== null) throw new Error(`bridge exited with ${child.exitCode}`);
    if (i > 200) throw new Error('bridge did not start within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, stop: () => child.kill('SIGKILL') };
}

/** One scrape of /metrics (each scrape resets prom-client's event-loop histogram). */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([0-9.e+-]+|\+Inf)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Event-loop delay p99 above the 10 ms sampling resolution of prom-client's monitor, in ms. */
export const loopDelayMs = (m: Map<string, number>): number => Math.max(0, ((m.get('nodejs_eventloop_lag_p99_seconds') ?? 0.01) - 0.01) * 1000);
