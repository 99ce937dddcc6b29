import { describe, expect, it } from 'vitest';
import { ShoalClient } from '../../src/api/shoal-client.js';
import { linesOf, ProcessScope, type RunningNode, runCli, TEST_SECRET } from './cli-process.js';

const env = { SHOAL_SECRET: TEST_SECRET };

/** Runs a client command against `node` with the test secret. */
function client(node: RunningNode, ...args: string[]) {
  return runCli([...args, '--seed', node.url, '--timeout', '10000'], { env });
}

/** Polls `check` every 50 ms until it resolves true or `timeoutMs` passes. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.concurrent('shoal start as a three-node cluster', () => {
  // RF 2: the backups take over; RF 1: the node hands its partitions over before leaving.
  it.for([2, 1])(
    'keeps every key written through a node after its SIGTERM (RF %i)',
    async (rf, { onTestFinished }) => {
      const scope = new ProcessScope(onTestFinished);
      const common = ['--replication-factor', String(rf), '--log-level', 'error'];
      const first = await scope.startNode(['--id', 't1', ...common], { env });
      const join = ['--join', `t1=${first.url}`];
      const [second, third] = await Promise.all([
        scope.startNode(['--id', 't2', ...join, ...common], { env }),
        scope.startNode(['--id', 't3', ...join, ...common], { env }),
      ]);
      const members = async (node: RunningNode) =>
        JSON.parse((await client(node, 'status', '--json')).stdout).members.length as number;
      await eventually(async () => (await members(first)) === 3, 'three members');

      const writer = await ShoalClient.connect({ seeds: [`t3=${third.url}`], secret: TEST_SECRET });
      const keys = Array.from({ length: 90 }, (_, i) => `survivor:${i}`);
      try {
        await writer.mset(keys.map((key, i) => [key, i] as const));
      } finally {
        await writer.stop();
      }

      third.cli.kill('SIGTERM');
      const exited = await third.cli.exited;
      expect(exited.code).toBe(0);
      expect(exited.stderr).toMatch(/^shoal: t3 stopped$/m);
      await eventually(async () => (await members(first)) === 2, 'two members');

      const reader = await ShoalClient.connect({
        seeds: [`t1=${first.url}`, `t2=${second.url}`],
        secret: TEST_SECRET,
      });
      try {
        expect(await reader.mget(keys)).toEqual(keys.map((_, i) => i));
      } finally {
        await reader.stop();
      }
      expect((await client(second, 'get', 'survivor:7')).stdout).toBe('7\n');
    },
  );

  it('applies live settings set with config set, and refuses a bad one with one line', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--id', 'live-1', '--log-level', 'error'], { env });

    const [jitter, memory] = await Promise.all([
      client(node, 'config', 'set', 'ttlJitter', '0.25'),
      client(node, 'config', 'set', 'maxMemory', '64mb'),
    ]);
    expect([jitter.code, jitter.stdout]).toEqual([0, 'OK version 1\n']);
    expect([memory.code, memory.stdout]).toEqual([0, 'OK version 1\n']);
    const read = await client(node, 'config', 'get', 'ttlJitter', '--json');
    // A number for shoal's own settings, not the string "0.25".
    expect(JSON.parse(read.stdout)).toEqual({ value: 0.25, version: 1 });

    const metrics = await (await fetch(`${node.url.replace(/^ws/, 'http')}/metrics`)).text();
    expect(metrics).toMatch(/^shoal_settings_max_memory_bytes 67108864$/m);
    expect(metrics).toMatch(/^shoal_settings_ttl_jitter_ratio 0\.25$/m);

    const bad = await client(node, 'config', 'set', 'maxMemory', 'banana');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toBe('');
    expect(linesOf(bad.stderr)).toHaveLength(1);
    expect(bad.stderr).toMatch(
      /^shoal: .*config maxMemory must be a byte size .*"banana".*\[ERR_INVALID_SETTING\]\n$/,
    );
    const unchanged = await client(node, 'config', 'get', 'maxMemory');
    expect(unchanged.stdout).toBe('64mb\n');
  });
});
