import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI (the suite's pretest builds dist/ first). */
export const SHOAL_BIN = fileURLToPath(new URL('../../bin/shoal.js', import.meta.url));

/** A secret long enough for the CLI's minimum. */
export const TEST_SECRET = 'cli-test-secret-0123';

/** Longest any single CLI invocation may take in these tests before it is killed. */
const RUN_TIMEOUT_MS = 30_000;

/** A finished CLI run. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of a CLI run: extra environment (SHOAL_SECRET is NOT inherited unless given). */
export interface CliOptions {
  readonly env?: Readonly<Record<string, string>>;
}

/** A running `node bin/shoal.js ...` whose output is collected as it comes. */
export class CliProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<CliResult>;
  private readonly waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];

  constructor(args: readonly string[], options: CliOptions = {}, scope?: ProcessScope) {
    const env: Record<string, string | undefined> = { ...process.env, ...options.env };
    if (options.env?.SHOAL_SECRET === undefined) delete env.SHOAL_SECRET;
    if (options.env?.SHOAL_SEEDS === undefined) delete env.SHOAL_SEEDS;
    this.child = spawn(process.execPath, [SHOAL_BIN, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    scope?.add(this);
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      this.check();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderr += chunk;
      this.check();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** Resolves the first match of `pattern` in stdout+stderr; rejects if the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const found = (this.stdout + this.stderr).match(pattern);
    if (found !== null) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`timed out waiting for ${pattern}; output:\n${this.stdout}${this.stderr}`),
          ),
        timeoutMs,
      );
      this.waiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        const late = (this.stdout + this.stderr).match(pattern);
        if (late !== null) resolve(late);
        else reject(new Error(`exited before ${pattern}; output:\n${this.stdout}${this.stderr}`));
      });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  private check(): void {
    const text = this.stdout + this.stderr;
    for (const waiter of [...this.waiters]) {
      const match = text.match(waiter.pattern);
      if (match === null) continue;
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve(match);
    }
  }
}

/** Runs the CLI to completion (killed after RUN_TIMEOUT_MS). */
export async function runCli(
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const cli = new CliProcess(args, options);
  const timer = setTimeout(() => cli.kill('SIGKILL'), RUN_TIMEOUT_MS);
  try {
    return await cli.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** A `shoal start --port 0` that is serving. */
export interface RunningNode {
  readonly cli: CliProcess;
  readonly id: string;
  readonly url: string;
}

/**
 * The long-running processes of one test, stopped when it finishes (passed or not).
 * One scope per test lets tests run concurrently without stopping each other's nodes.
 */
export class ProcessScope {
  private readonly processes = new Set<CliProcess>();

  /** Registers `stopAll` with the test's `onTestFinished`. */
  constructor(onTestFinished: (fn: () => Promise<void>) => void) {
    onTestFinished(() => this.stopAll());
  }

  add(cli: CliProcess): void {
    this.processes.add(cli);
  }

  /** Spawns the CLI as a process this scope stops. */
  spawn(args: readonly string[], options: CliOptions = {}): CliProcess {
    return new CliProcess(args, options, this);
  }

  /** Starts a node on an ephemeral port and waits until it prints where it listens. */
  async startNode(args: readonly string[], options: CliOptions = {}): Promise<RunningNode> {
    const cli = this.spawn(['start', '--port', '0', ...args], options);
    const match = await cli.waitFor(/shoal node (\S+) listening on (ws:\/\/\S+)/);
    return { cli, id: match[1]!, url: match[2]! };
  }

  /** SIGTERM to every process still running, then SIGKILL after a grace period. */
  async stopAll(): Promise<void> {
    const running = [...this.processes];
    for (const cli of running) cli.kill('SIGTERM');
    await Promise.all(
      running.map(async (cli) => {
        const timer = setTimeout(() => cli.kill('SIGKILL'), 5_000);
        await cli.exited;
        clearTimeout(timer);
      }),
    );
  }
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The lines a run wrote to a stream, without the trailing empty one. */
export function linesOf(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}
