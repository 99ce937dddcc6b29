import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { linesOf, runCli, TEST_SECRET } from './cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-usage-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Asserts the run failed with `code` and exactly one `shoal: ...` line, no stack trace. */
function expectOneLineFailure(
  result: { code: number | null; stdout: string; stderr: string },
  code: number,
  pattern: RegExp,
): void {
  const lines = linesOf(result.stderr);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^shoal: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).toBe('');
  expect(result.code).toBe(code);
}

describe('shoal help and version', () => {
  it('prints the overview with every command for no arguments, help and --help', async () => {
    for (const args of [[], ['help'], ['--help']]) {
      const result = await runCli(args);
      expect(result.code).toBe(0);
      for (const command of ['start', 'get', 'set', 'del', 'ttl', 'status', 'config', 'demo']) {
        expect(result.stdout).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
      }
      expect(result.stderr).toBe('');
    }
  });

  it('prints the usage of one command for "<cmd> --help" and "help <cmd>"', async () => {
    const viaFlag = await runCli(['start', '--help']);
    const viaHelp = await runCli(['help', 'start']);
    expect(viaFlag.code).toBe(0);
    expect(viaFlag.stdout).toMatch(/^usage: shoal start/);
    expect(viaFlag.stdout).toMatch(/--max-memory SIZE/);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    const get = await runCli(['get', '--help']);
    expect(get.stdout).toMatch(/^usage: shoal get KEY/);
    expect(get.stdout).toMatch(/3 key not found/);
  });

  it('prints the package version for --version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${pkg.version}\n`);
  });
});

// Each case is a short-lived process that runCli waits for (and kills if it hangs), so
// the cases can run side by side.
describe.concurrent('bad command lines exit 2 with one line', () => {
  const secret = { SHOAL_SECRET: TEST_SECRET };
  const cases: [string, string[], RegExp, Record<string, string>?][] = [
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['help for an unknown command', ['help', 'frobnicate'], /no command "frobnicate"/],
    ['an unknown flag', ['start', '--bogus'], /unknown flag "--bogus"/],
    ['a flag without its value', ['start', '--port'], /--port needs a value/],
    ['a value given to a switch', ['get', 'k', '--json=yes'], /--json takes no value/],
    ['a bad byte size', ['start', '--max-memory', '12zz'], /--max-memory must look like 256mb/],
    ['a byte size below 1mb', ['start', '--max-memory', '1kb'], /at least 1mb/],
    [
      'a bad replication factor',
      ['start', '--replication-factor', '0'],
      /--replication-factor must be between 1 and 16/,
    ],
    ['a non-numeric port', ['start', '--port', 'http'], /--port must be a whole number/],
    ['a port out of range', ['start', '--port', '70000'], /--port must be between 0 and 65535/],
    [
      'a bad log level',
      ['start', '--log-level', 'chatty'],
      /--log-level must be one of debug, info, warn, error/,
    ],
    [
      'a bad write concern',
      ['start', '--write-concern', 'most'],
      /--write-concern must be one, quorum or all/,
    ],
    [
      'a voter without an id',
      ['start', '--voters', '127.0.0.1:7400'],
      /must look like id=host:port/,
    ],
    ['a voter without a port', ['start', '--voters', 'a=localhost'], /needs a host and a port/],
    ['a voter named twice', ['start', '--voters', 'a=h:1,a=h:2'], /names "a" twice/],
    ['--voters with --join', ['start', '--voters', 'a=h:1', '--join', 'b=h:2'], /not both/],
    ['--join naming this node', ['start', '--id', 'a', '--join', 'a=h:1'], /own id "a"/],
    [
      'an unreadable secret file',
      ['get', 'k', '--secret-file', '/nonexistent/secret'],
      /cannot read secret file \/nonexistent\/secret \(ENOENT\)/,
    ],
    [
      'both secret flags',
      ['start', '--secret', 'long-enough-secret', '--secret-file', '/x'],
      /either --secret or --secret-file/,
    ],
    ['a too short secret', ['get', 'k', '--secret', 'short'], /shorter than 8 characters/],
    ['no secret for a client command', ['get', 'k'], /no cluster secret: set SHOAL_SECRET/],
    ['get without a key', ['get'], /expected KEY, got 0 arguments/, secret],
    ['set without a value', ['set', 'k'], /expected KEY VALUE, got 1 argument /, secret],
    [
      'set with invalid JSON',
      ['set', 'k', '{nope', '--json'],
      /--json: VALUE is not valid JSON/,
      secret,
    ],
    ['set with --nx and --xx', ['set', 'k', 'v', '--nx', '--xx'], /--nx or --xx, not both/, secret],
    ['a zero ttl', ['set', 'k', 'v', '--ttl', '0'], /--ttl must be between 1 and/, secret],
    ['a bad seed', ['get', 'k', '--seed', 'http://h:1'], /must use ws:\/\/ or wss:\/\//, secret],
    ['status with an argument', ['status', 'extra'], /status takes no arguments/, secret],
    ['config without an action', ['config'], /expected get or set/, secret],
    ['config get without a key', ['config', 'get'], /expected get KEY/, secret],
    ['config set without a value', ['config', 'set', 'k'], /expected set KEY VALUE/, secret],
    [
      'config get with --if-version',
      ['config', 'get', 'k', '--if-version', '1'],
      /--if-version applies to set only/,
      secret,
    ],
    ['demo with a bad key count', ['demo', '--keys', 'many'], /--keys must be a whole number/],
    [
      'a non-numeric RESP port',
      ['start', '--resp-port', 'x'],
      /--resp-port must be a whole number/,
    ],
    [
      'a RESP port out of range',
      ['start', '--resp-port', '70000'],
      /--resp-port must be between 0 and 65535/,
    ],
    [
      '--resp-proxy without --resp-port',
      ['start', '--resp-proxy'],
      /--resp-proxy needs --resp-port/,
    ],
    [
      '--resp-password without --resp-port',
      ['start', '--resp-password', 'pw'],
      /--resp-password needs --resp-port/,
    ],
    ['an empty RESP password', ['start', '--resp-port', '0', '--resp-password='], /is empty/],
    ['a value given to --resp-allow-flush', ['start', '--resp-allow-flush=yes'], /takes no value/],
  ];
  it.each(cases)('%s', async (_name, args, pattern, env) => {
    const result = await runCli(args, env === undefined ? {} : { env });
    expectOneLineFailure(result, 2, pattern);
  });
});

describe('config files of shoal start', () => {
  it('rejects an unknown key, naming the known ones', async () => {
    const path = file('unknown.json', JSON.stringify({ port: 0, maxMemroy: '1gb' }));
    expectOneLineFailure(
      await runCli(['start', '--config', path]),
      2,
      /unknown key "maxMemroy" \(known: id, host, port/,
    );
  });

  it('refuses a secret written in the file', async () => {
    const path = file('secret.json', JSON.stringify({ secret: 'do-not-commit-me' }));
    const result = await runCli(['start', '--config', path]);
    expectOneLineFailure(result, 2, /holds "secret"; put it in a file named by "secretFile"/);
    expect(result.stderr).not.toContain('do-not-commit-me');
  });

  it('names the file and key of a bad value', async () => {
    const path = file('bad-value.json', JSON.stringify({ replicationFactor: 40 }));
    expectOneLineFailure(
      await runCli(['start', '--config', path]),
      2,
      /"replicationFactor" in .*bad-value\.json must be between 1 and 16, got 40/,
    );
  });

  it('rejects a value of the wrong type, invalid JSON, and a missing file', async () => {
    const wrongType = file('type.json', JSON.stringify({ port: true }));
    expectOneLineFailure(
      await runCli(['start', '--config', wrongType]),
      2,
      /"port" in .* must be a string or a number/,
    );
    const notJson = file('not.json', '{ port: 1 ');
    expectOneLineFailure(await runCli(['start', '--config', notJson]), 2, /is not valid JSON/);
    const notObject = file('array.json', '[1]');
    expectOneLineFailure(
      await runCli(['start', '--config', notObject]),
      2,
      /must hold a JSON object/,
    );
    expectOneLineFailure(
      await runCli(['start', '--config', join(dir, 'missing.json')]),
      2,
      /cannot read config file .*missing\.json \(ENOENT\)/,
    );
  });
});

describe('unreachable clusters exit 1 with one line', () => {
  it('every client command against a port nobody listens on', async () => {
    const port = await closedPort();
    const env = { SHOAL_SECRET: TEST_SECRET };
    for (const args of [
      ['get', 'k'],
      ['set', 'k', 'v'],
      ['del', 'k'],
      ['ttl', 'k'],
      ['status'],
      ['config', 'get', 'k'],
      ['config', 'set', 'k', 'v'],
    ]) {
      const result = await runCli([...args, '--seed', `127.0.0.1:${port}`, '--timeout', '2000'], {
        env,
      });
      expectOneLineFailure(
        result,
        1,
        new RegExp(
          `no shoal node answers at ws://127\\.0\\.0\\.1:${port} \\(connection refused\\)`,
        ),
      );
    }
  });

  it('start on a port already in use', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const result = await runCli(
        ['start', '--port', String(address.port), '--log-level', 'error'],
        {
          env: { SHOAL_SECRET: TEST_SECRET },
        },
      );
      expectOneLineFailure(result, 1, /cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('start with a RESP port already in use', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const result = await runCli(
        ['start', '--port', '0', '--resp-port', String(address.port), '--log-level', 'error'],
        { env: { SHOAL_SECRET: TEST_SECRET } },
      );
      expectOneLineFailure(
        result,
        1,
        new RegExp(`cannot listen for RESP on 127\\.0\\.0\\.1:${address.port} \\(EADDRINUSE\\)`),
      );
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
