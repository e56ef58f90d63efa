/**
 * A real redis-server for the fleet tests: Debian's binary, started on a free loopback port in
 * its own temp directory (no persistence), stopped by the test. `redisBinary()` says whether it
 * can be had; tests skip with a loud message only when it cannot, and never when
 * VOICEMASK_REQUIRE_REDIS is set (CI installs it: .ci/run).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/lib/bridge-process.js';

export function redisBinary(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.status === 0) return 'redis-server';
  if (process.env.VOICEMASK_REQUIRE_REDIS) throw new Error('VOICEMASK_REQUIRE_REDIS is set but redis-server is not on PATH (apt-get install redis-server)');
  console.warn('\n!!! redis-server not found: the fleet tests (shared ElevenLabs limit on Redis) are SKIPPED. Install it: apt-get install redis-server !!!\n');
  return undefined;
}

export interface RedisServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** SIGKILL: Redis gone at once, as in a crash. */
  kill(): Promise<void>;
  /** Start again on the same port (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export { freePort };

export async function startRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'redis-'));
  const port = await freePort();
  let child: ChildProcess;
  const launch = () =>
    new Promise<void>((resolve, reject) => {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const onData = (d: Buffer) => (out += String(d));
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      const probe = async () => {
        for (let i = 0; i < 100; i++) {
          const ok = await new Promise<boolean>((r) => {
            const s = net.connect(port, '127.0.0.1', () => {
              s.write('PING\r\n');
            });
            s.once('data', (d) => {
              s.destroy();
              r(String(d).startsWith('+PONG'));
            });
            s.once('error', () => r(false));
          });
          if (ok) return resolve();
          await new Promise((r) => setTimeout(r, 50));
        }
        reject(new Error(`redis-server did not answer on port ${port}: ${out}`));
      };
      void probe();
    });
  await launch();
  const exited = () => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    get child() {
      return child;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    restart: launch,
    async stop() {
      child.kill('SIGKILL');
      await exited();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
