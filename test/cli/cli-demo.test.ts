import { describe, expect, it } from 'vitest';
import { isAlive, ProcessScope } from './cli-process.js';

/** The node pids a demo printed ("... (pids 1, 2, 3)"). */
function pidsOf(output: string): number[] {
  const match = /\(pids ([\d, ]+)\)/.exec(output);
  return match === null ? [] : match[1]!.split(', ').map(Number);
}

/** SIGKILLs pids still alive: the demo must have stopped them, but a failed test must not leak them. */
function reap(pids: readonly number[]): void {
  for (const pid of pids) {
    if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
}

// The demo runs four processes; on a loaded 2-core machine starting them alone can take
// many seconds, so these tests get more than the default budget.
const DEMO_TEST_TIMEOUT_MS = 120_000;

describe('shoal demo', () => {
  it(
    'crashes a primary, fails over, loses no acknowledged key, and stops every node',
    async ({ onTestFinished }) => {
      const scope = new ProcessScope(onTestFinished);
      const demo = scope.spawn(['demo', '--keys', '100', '--timeout', '20000']);
      let pids: number[] = [];
      onTestFinished(() => reap(pids));
      await demo.waitFor(/\(pids [\d, ]+\)/);
      pids = pidsOf(demo.stdout);
      const result = await demo.exited;

      expect(result.code, result.stdout + result.stderr).toBe(0);
      expect(pids).toHaveLength(3);
      expect(result.stdout).toMatch(/wrote 100\/100 keys/);
      expect(result.stdout).toMatch(/read 100\/100 back/);
      const victim =
        /(demo-\d) is the primary of (\d+) of the 100 keys .* killing it with SIGKILL/.exec(
          result.stdout,
        );
      expect(victim).not.toBeNull();
      expect(Number(victim![2])).toBeGreaterThan(0);
      const failover = /failover: view epoch (\d+) -> (\d+) \(([^)]*)\)/.exec(result.stdout);
      expect(failover).not.toBeNull();
      expect(Number(failover![2])).toBeGreaterThan(Number(failover![1]));
      expect(failover![3]).not.toContain(victim![1]);
      const check = /(\d+)\/(\d+) readable with the value written .*; 0 lost$/m.exec(result.stdout);
      expect(check).not.toBeNull();
      expect(check![1]).toBe(check![2]);
      // 100 before the crash and 50 after it, at least.
      expect(Number(check![2])).toBeGreaterThanOrEqual(150);
      expect(result.stdout).toMatch(/stopped 2 nodes/);
      expect(pids.filter(isAlive)).toEqual([]);
    },
    DEMO_TEST_TIMEOUT_MS,
  );

  it(
    'stops every node it started when interrupted',
    async ({ onTestFinished }) => {
      const scope = new ProcessScope(onTestFinished);
      const demo = scope.spawn(['demo', '--keys', '10', '--timeout', '20000']);
      let pids: number[] = [];
      onTestFinished(() => reap(pids));
      await demo.waitFor(/formed a cluster .*\(pids [\d, ]+\)/);
      pids = pidsOf(demo.stdout);
      demo.kill('SIGINT');
      const result = await demo.exited;

      expect(pids).toHaveLength(3);
      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/interrupted; stopping the demo nodes/);
      expect(result.stderr).toBe('shoal: interrupted; the demo nodes were stopped\n');
      expect(pids.filter(isAlive)).toEqual([]);
    },
    DEMO_TEST_TIMEOUT_MS,
  );
});
