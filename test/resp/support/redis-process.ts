import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawRespClient } from './raw-client.js';

const INSTALL_HINT =
  "install Debian's redis-server and redis-tools (apt-get install -y redis-server redis-tools); .ci/run installs them";

/** Path of a binary on PATH, or a test failure that says how to get it. */
export function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(`${name} not found on PATH: ${INSTALL_HINT}`);
  }
  return path;
}

/** A port free on loopback right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** A redis-server child process started for one test. */
export interface RedisProcess {
  readonly port: number;
  stop(): Promise<void>;
}

const START_DEADLINE_MS = 10_000;
const START_ATTEMPTS = 3;

/**
 * Starts `redis-server` on a free loopback port with persistence off, and waits
 * until it answers PING. Extra arguments go on the command line (e.g. cluster mode).
 */
export async function startRedisServer(extraArgs: readonly string[] = []): Promise<RedisProcess> {
  const binary = requireBinary('redis-server');
  let lastError: unknown;
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'shoal-redis-'));
    const child = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...extraArgs,
      ],
      { stdio: 'ignore' },
    );
    const stop = async (): Promise<void> => {
      await killChild(child);
      rmSync(dir, { recursive: true, force: true });
    };
    try {
      await waitForPing(port, child);
      return { port, stop };
    } catch (error) {
      lastError = error;
      await stop();
    }
  }
  throw new Error(`redis-server did not start: ${String(lastError)}`);
}

async function waitForPing(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    try {
      const client = await RawRespClient.connect(port);
      try {
        const reply = await client.call(['PING']);
        if (reply.type === 'simple' && reply.value === 'PONG') return;
      } finally {
        client.close();
      }
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
