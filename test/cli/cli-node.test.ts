import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redisCli } from '../resp/support/redis-cli.js';
import { linesOf, ProcessScope, type RunningNode, runCli, TEST_SECRET } from './cli-process.js';

const env = { SHOAL_SECRET: TEST_SECRET };
const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-node-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a client command against `node` with the test secret. */
function client(node: RunningNode, ...args: string[]) {
  return runCli([...args, '--seed', node.url, '--timeout', '10000'], { env });
}

// Every test starts its own nodes on ephemeral ports and stops them through its own
// ProcessScope, so the tests can run side by side.
describe.concurrent('shoal start with client commands against it', () => {
  it('serves set/get/del/ttl and reports itself in status', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--id', 'cli-a', '--log-level', 'warn'], { env });
    expect(node.id).toBe('cli-a');

    const [set, setJson] = await Promise.all([
      client(node, 'set', 'greeting', 'hello'),
      client(node, 'set', 'user:1', '{"name":"Ada","tags":[1,2]}', '--json', '--ttl', '60000'),
    ]);
    expect([set.code, set.stdout, set.stderr]).toEqual([0, 'OK\n', '']);
    expect([setJson.code, setJson.stdout]).toEqual([0, 'OK\n']);

    const [get, getJson, getObject, ttl, noTtl, nx] = await Promise.all([
      client(node, 'get', 'greeting'),
      client(node, 'get', 'greeting', '--json'),
      client(node, 'get', 'user:1'),
      client(node, 'ttl', 'user:1'),
      client(node, 'ttl', 'greeting'),
      client(node, 'set', 'greeting', 'again', '--nx'),
    ]);
    expect([get.code, get.stdout]).toEqual([0, 'hello\n']);
    expect(getJson.stdout).toBe('"hello"\n');
    expect(JSON.parse(getObject.stdout)).toEqual({ name: 'Ada', tags: [1, 2] });
    expect(ttl.code).toBe(0);
    const remaining = Number(ttl.stdout);
    expect(Number.isInteger(remaining) && remaining > 0 && remaining <= 60_000).toBe(true);
    expect(noTtl.stdout).toBe('-1\n');
    expect([nx.code, nx.stdout]).toEqual([3, '(nil)\n']);

    const del = await client(node, 'del', 'greeting');
    expect([del.code, del.stdout]).toEqual([0, '1\n']);
    const [delAgain, missing, missingTtl, status, table] = await Promise.all([
      client(node, 'del', 'greeting'),
      client(node, 'get', 'greeting'),
      client(node, 'ttl', 'greeting'),
      client(node, 'status', '--json'),
      client(node, 'status'),
    ]);
    expect([delAgain.code, delAgain.stdout]).toEqual([0, '0\n']);
    expect([missing.code, missing.stdout, missing.stderr]).toEqual([3, '(nil)\n', '']);
    expect([missingTtl.code, missingTtl.stdout]).toEqual([3, '(nil)\n']);

    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).members).toEqual([
      expect.objectContaining({
        id: 'cli-a',
        address: node.url,
        reachable: true,
        primaryPartitions: 16384,
        backupPartitions: 0,
        node: expect.objectContaining({
          id: 'cli-a',
          keys: 1,
          coord: expect.objectContaining({ role: 'leader', leader: 'cli-a', hasQuorum: true }),
          handoff: expect.objectContaining({ partitionsPending: 0 }),
        }),
      }),
    ]);
    expect(JSON.parse(status.stdout).leader).toBe('cli-a');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^leader cli-a · coordinator epoch \d+ · view epoch \d+/m);
    expect(table.stdout).toMatch(
      /^NODE\s+ADDRESS\s+VIEW\s+ROLE\s+PRIMARY\s+BACKUP\s+KEYS\s+BYTES\s+HANDOFF\s+STATE$/m,
    );
    expect(table.stdout).toMatch(
      new RegExp(
        `^cli-a\\s+${node.url}\\s+\\d+\\s+leader\\s+16384\\s+0\\s+1\\s+[1-9]\\d*\\s+0\\s+up$`,
        'm',
      ),
    );
  });

  it('speaks Redis on --resp-port: the secret or --resp-password log in', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(
      [
        '--id',
        'cli-resp',
        '--log-level',
        'warn',
        '--resp-port',
        '0',
        '--resp-password',
        'redis-pw',
      ],
      { env },
    );
    const [, port] = await node.cli.waitFor(/RESP on port (\d+)/);
    // A loaded machine can delay the coordinator's ticks past the lease: the node then
    // answers CLUSTERDOWN (nothing applied), which a Redis client retries.
    const redis = async (...args: string[]): Promise<string> => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const { stdout } = await redisCli(Number(port), ['--no-auth-warning', ...args]);
        if (!stdout.startsWith('CLUSTERDOWN') || Date.now() > deadline) return stdout;
      }
    };
    expect(await redis('-a', 'redis-pw', 'SET', 'greeting', 'hello')).toBe('OK\n');
    expect(await redis('-a', TEST_SECRET, 'GET', 'greeting')).toBe('hello\n');
    expect(await redis('GET', 'greeting')).toMatch(/^NOAUTH/);
    const viaShoal = await client(node, 'get', 'greeting');
    expect(viaShoal.stdout).toBe('hello\n');
  });

  it('fails fast with one line when the secret is wrong', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--log-level', 'error'], { env });
    const results = await Promise.all(
      [['get', 'k'], ['status']].map((args) =>
        runCli([...args, '--seed', node.url, '--timeout', '20000'], {
          env: { SHOAL_SECRET: 'a-different-secret' },
        }),
      ),
    );
    for (const result of results) {
      expect(result.code).toBe(1);
      expect(linesOf(result.stderr)).toEqual([
        'shoal: the node refused the secret (check --secret-file or SHOAL_SECRET)',
      ]);
    }
  });

  it('skips a dead seed when another one answers', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const [node, dead] = await Promise.all([
      scope.startNode(['--log-level', 'error'], { env }),
      scope.startNode(['--id', 'soon-dead', '--log-level', 'error'], { env }),
    ]);
    dead.cli.kill('SIGKILL');
    await dead.cli.exited;
    const result = await runCli(['set', 'k', 'v', '--seed', `${dead.url},${node.url}`], { env });
    expect([result.code, result.stdout]).toEqual([0, 'OK\n']);
  });
});

describe.concurrent('shoal start lifecycle', () => {
  it('exits 0 on SIGTERM after leaving the cluster', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--log-level', 'info'], { env });
    node.cli.kill('SIGTERM');
    const result = await node.cli.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^shoal: SIGTERM received; stopping node-1/m);
    expect(result.stderr).toMatch(/^shoal: node-1 stopped$/m);
  });

  it('exits 0 on SIGINT too', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--log-level', 'error'], { env });
    node.cli.kill('SIGINT');
    const result = await node.cli.exited;
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^shoal: SIGINT received/m);
  });

  it('prints a generated secret exactly once, and it works for clients', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--log-level', 'debug']);
    const match = await node.cli.waitFor(/^export SHOAL_SECRET=([0-9a-f]+) /m);
    const secret = match[1]!;
    await node.cli.waitFor(/press Ctrl-C to stop/);
    const set = await runCli(['set', 'k', 'v', '--seed', node.url], {
      env: { SHOAL_SECRET: secret },
    });
    expect(set.code).toBe(0);
    node.cli.kill('SIGTERM');
    const result = await node.cli.exited;
    expect(result.stdout.split(secret)).toHaveLength(2);
    expect(result.stderr).not.toContain(secret);
  });

  it('never prints a secret it was given, in output or debug logs', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const secretFile = join(dir, 'secret');
    writeFileSync(secretFile, `${TEST_SECRET}-from-file\n`);
    const node = await scope.startNode(['--secret-file', secretFile, '--log-level', 'debug']);
    await node.cli.waitFor(/press Ctrl-C to stop/);
    expect(node.cli.stdout).toContain(`--secret-file ${secretFile}`);
    const set = await runCli(['set', 'k', 'v', '--seed', node.url, '--secret-file', secretFile]);
    expect(set.code).toBe(0);
    node.cli.kill('SIGTERM');
    const result = await node.cli.exited;
    expect(result.code).toBe(0);
    expect(result.stdout + result.stderr).not.toContain(TEST_SECRET);
    // Every stderr line but the human stop notices is a JSON log record.
    const records = linesOf(result.stderr).filter((line) => !line.startsWith('shoal: '));
    expect(records.length).toBeGreaterThan(0);
    for (const line of records) {
      expect(JSON.parse(line)).toEqual(
        expect.objectContaining({ level: expect.any(String), msg: expect.any(String) }),
      );
    }
  });

  it('reads a config file, and flags override it', async ({ onTestFinished }) => {
    const scope = new ProcessScope(onTestFinished);
    const config = join(dir, 'node.json');
    writeFileSync(
      config,
      JSON.stringify({
        id: 'from-file',
        port: 0,
        logLevel: 'error',
        maxMemory: '64mb',
        replicationFactor: 1,
      }),
    );
    const [fromFile, overridden] = await Promise.all([
      scope.startNode(['--config', config], { env }),
      scope.startNode(['--config', config, '--id', 'from-flag'], { env }),
    ]);
    expect(fromFile.id).toBe('from-file');
    expect(overridden.id).toBe('from-flag');
  });

  it('reads and writes the cluster config, and a stale --if-version fails with one line', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const node = await scope.startNode(['--id', 'cfg-a', '--log-level', 'warn'], { env });

    const missing = await client(node, 'config', 'get', 'limits');
    expect([missing.code, missing.stdout]).toEqual([3, '(nil)\n']);
    const first = await client(
      node,
      'config',
      'set',
      'limits',
      '{"rps":10}',
      '--json',
      '--if-version',
      '0',
    );
    expect([first.code, first.stdout, first.stderr]).toEqual([0, 'OK version 1\n', '']);
    const [plain, json] = await Promise.all([
      client(node, 'config', 'get', 'limits'),
      client(node, 'config', 'get', 'limits', '--json'),
    ]);
    expect([plain.code, plain.stdout]).toEqual([0, '{"rps":10}\n']);
    expect(JSON.parse(json.stdout)).toEqual({ value: { rps: 10 }, version: 1 });

    const stale = await client(node, 'config', 'set', 'limits', 'other', '--if-version', '0');
    expect(stale.code).toBe(1);
    expect(stale.stdout).toBe('');
    expect(linesOf(stale.stderr)).toHaveLength(1);
    expect(stale.stderr).toMatch(
      /^shoal: config key "limits" is at version 1, not 0 \[ERR_COORD_VERSION_CONFLICT\]\n$/,
    );
    const after = await client(node, 'config', 'get', 'limits');
    expect(after.stdout).toBe('{"rps":10}\n');

    const [badVersion, badAction] = await Promise.all([
      client(node, 'config', 'set', 'limits', 'x', '--if-version', '-1'),
      client(node, 'config', 'frob', 'limits'),
    ]);
    expect(badVersion.code).toBe(2);
    expect(badAction.code).toBe(2);
    expect(badAction.stderr).toMatch(/unknown config action "frob"/);
  });

  it('joins a second node as a learner with --join, and status shows both until it leaves', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const first = await scope.startNode(['--id', 'v1', '--log-level', 'error'], { env });
    const joinHint = await first.cli.waitFor(/join another node: +(.*)$/m);
    expect(joinHint[1]).toContain(`--id v2 --port 0 --join v1=${first.url}`);
    const second = await scope.startNode(
      ['--id', 'v2', '--join', `v1=${first.url}`, '--log-level', 'error'],
      { env },
    );
    expect(second.cli.stdout).toMatch(/listening on \S+ \(learner;/);

    const both = JSON.parse((await client(first, 'status', '--json')).stdout);
    expect(both.members.map((member: { id: string }) => member.id).sort()).toEqual(['v1', 'v2']);
    const shares = both.members.map((m: { primaryPartitions: number }) => m.primaryPartitions);
    expect(shares.reduce((a: number, b: number) => a + b, 0)).toBe(16384);

    expect((await client(second, 'set', 'shared', 'yes')).code).toBe(0);
    second.cli.kill('SIGTERM');
    expect((await second.cli.exited).code).toBe(0);
    // The leave is committed before the learner exits, so v1's view no longer has it.
    const after = JSON.parse((await client(first, 'status', '--json')).stdout);
    expect(after.members.map((member: { id: string }) => member.id)).toEqual(['v1']);
    expect((await client(first, 'get', 'shared')).stdout).toBe('yes\n');
  });
});
