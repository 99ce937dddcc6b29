import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ShoalOptions } from '../../src/api/shoal.js';

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'shoal-node-process.ts');

/** A node process started by {@link startNodeProcess}. */
export interface NodeProcess {
  readonly id: string;
  readonly url: string;
  readonly child: ChildProcess;
}

/** A free TCP port on 127.0.0.1 (bound and released at once). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

/** Starts a node process and resolves once it reports being in the view. */
export function startNodeProcess(
  options: ShoalOptions & { id: string },
  timeoutMs = 30_000,
): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPT, JSON.stringify(options)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    let errors = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${options.id} did not start in ${timeoutMs} ms: ${errors}`));
    }, timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\S+)/.exec(output);
      if (match !== null) {
        clearTimeout(timer);
        resolve({ id: options.id, url: match[1]!, child });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`node ${options.id} exited (${code ?? signal}) before it was ready: ${errors}`),
      );
    });
  });
}

/** Kills `node` with `signal` and waits until the process is gone. */
export function killNodeProcess(
  node: NodeProcess,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    node.child.once('exit', () => resolve());
    node.child.kill(signal);
  });
}
