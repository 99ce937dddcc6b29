import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ShoalError } from '../util/errors.js';
import { SECRET_ENV } from './secret-source.js';

/** Lines of a child's stderr kept to explain a failure. */
const MAX_KEPT_STDERR_LINES = 20;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

/** What `shoal start` prints once its node serves; the line a parent waits for. */
export const LISTENING_PATTERN = /^shoal node (\S+) listening on (\S+)/;

/** A node process did not come up, or died. */
export class NodeProcessError extends ShoalError {
  constructor(message: string) {
    super('ERR_CLI_NODE_PROCESS', message);
  }
}

/** How to start one node process. */
export interface NodeProcessOptions {
  /** The `bin/shoal.js` script to run. */
  readonly script: string;
  readonly id: string;
  /** Flags after `start` (the id is added). */
  readonly args: readonly string[];
  /** Passed in the environment, never on the command line (where `ps` shows it). */
  readonly secret: string;
}

/**
 * A `shoal start` running as a child process: started, awaited until it prints that
 * it listens, then killed (SIGKILL, to show a crash) or stopped (SIGTERM, bounded).
 */
export class NodeProcess {
  readonly id: string;
  private readonly child: ChildProcess;
  private readonly stderrLines: string[] = [];
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;
  private url: string | undefined;
  private readonly listening: Promise<string>;

  private constructor(options: NodeProcessOptions) {
    this.id = options.id;
    this.child = spawn(
      process.execPath,
      [options.script, 'start', '--id', options.id, ...options.args],
      {
        env: { ...process.env, [SECRET_ENV]: options.secret },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal === null ? null : -1);
        resolve(this.exitCode);
      });
      // A spawn failure (no such executable) emits 'error' and no 'exit'.
      this.child.once('error', (error) => {
        this.stderrLines.push(error.message);
        this.exitCode = -1;
        resolve(-1);
      });
    });
    const stderr = this.child.stderr;
    if (stderr !== null) {
      createInterface({ input: stderr }).on('line', (line) => {
        this.stderrLines.push(line);
        if (this.stderrLines.length > MAX_KEPT_STDERR_LINES) this.stderrLines.shift();
      });
    }
    this.listening = new Promise<string>((resolve, reject) => {
      const stdout = this.child.stdout;
      if (stdout === null) {
        reject(new NodeProcessError(`${this.id}: no stdout to read`));
        return;
      }
      createInterface({ input: stdout }).on('line', (line) => {
        const match = LISTENING_PATTERN.exec(line);
        if (match !== null && this.url === undefined) {
          this.url = match[2]!;
          resolve(this.url);
        }
      });
      void this.exited.then(() => reject(new NodeProcessError(this.describeExit())));
    });
    this.listening.catch(() => {});
  }

  /** Spawns `shoal start` for one node. */
  static spawn(options: NodeProcessOptions): NodeProcess {
    return new NodeProcess(options);
  }

  /** The child's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves the URL it listens on once it serves; rejects if it exits first or `timeoutMs` passes. */
  async ready(timeoutMs: number): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new NodeProcessError(`${this.id} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.listening, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL: the process dies at once, as in a crash; resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (a graceful leave), then SIGKILL if it is still running after a grace period. */
  async stop(): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), STOP_GRACE_MS);
    });
    const outcome = await Promise.race([this.exited, graceOver]);
    clearTimeout(timer);
    if (outcome === 'late') await this.kill();
    return this.exitCode ?? null;
  }

  private describeExit(): string {
    const last = this.stderrLines.at(-1);
    return `${this.id} exited (code ${String(this.exitCode)})${last === undefined ? '' : `: ${last}`}`;
  }
}
