import { execFile } from 'node:child_process';
import { requireBinary } from './redis-process.js';

const CLI_TIMEOUT_MS = 20_000;

/** What one redis-cli run printed. */
export interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs redis-cli against 127.0.0.1:`port` with `args`, feeding `input` on stdin. */
export function redisCli(port: number, args: readonly string[], input = ''): Promise<CliResult> {
  const binary = requireBinary('redis-cli');
  return new Promise((resolve, reject) => {
    const child = execFile(
      binary,
      ['-h', '127.0.0.1', '-p', String(port), ...args],
      { encoding: 'latin1', timeout: CLI_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error?.killed) reject(error);
        else resolve({ stdout, stderr });
      },
    );
    // redis-cli given its command as arguments may exit before reading stdin; the
    // EPIPE that leaves is expected and must not surface as an uncaught error.
    child.stdin?.on('error', () => {});
    child.stdin?.end(Buffer.from(input, 'latin1'));
  });
}
