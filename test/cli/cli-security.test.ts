/**
 * Secrets over real processes: nodes started with `--secret`, `--secret-file` and
 * `--client-secret-file` log at debug level while clients fail to authenticate, and
 * neither secret appears in any log line, output, `/metrics`, `/shoal/status` or
 * `/healthz`. The client credential works from the command line for cache
 * operations and is refused for config changes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { linesOf, ProcessScope, type RunningNode, runCli } from './cli-process.js';

const NODE_SECRET = 'node-secret-never-logged-7f3a';
const CLIENT_SECRET = 'client-credential-never-logged-91c2';
const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-security-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${text}\n`);
  return path;
}

async function httpText(node: RunningNode, path: string): Promise<string> {
  const response = await fetch(`${node.url.replace(/^ws/, 'http')}${path}`);
  return response.text();
}

/** Polls until `condition` holds or fails after `timeoutMs`. */
async function eventually(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('secrets and roles through the CLI', () => {
  it('never shows either secret in logs, output, /metrics or /shoal/status, also on failed logins', async ({
    onTestFinished,
  }) => {
    const scope = new ProcessScope(onTestFinished);
    const clientFile = file('client', CLIENT_SECRET);
    const secretFile = file('secret', NODE_SECRET);
    const byFlag = await scope.startNode([
      '--id',
      'sec-a',
      '--secret',
      NODE_SECRET,
      '--client-secret-file',
      clientFile,
      '--log-level',
      'debug',
    ]);
    const byFile = await scope.startNode([
      '--id',
      'sec-b',
      '--secret-file',
      secretFile,
      '--client-secret-file',
      clientFile,
      '--log-level',
      'debug',
    ]);
    const seed = (node: RunningNode) => ['--seed', node.url, '--timeout', '10000'];

    // Failing attempts: a wrong cluster secret, a wrong client credential, and a node
    // dialer with the client credential as its secret.
    const wrongFile = file('wrong', 'a-wrong-credential-5555');
    const failures = await Promise.all([
      runCli(['get', 'k', ...seed(byFlag)], { env: { SHOAL_SECRET: 'wrong-secret-1234' } }),
      runCli(['get', 'k', ...seed(byFile), '--client-secret-file', wrongFile]),
    ]);
    for (const failure of failures) expect(failure.code).toBe(1);
    const confused = WsTransport.client({ id: 'confused', secret: CLIENT_SECRET });
    onTestFinished(() => confused.close());
    confused.addPeer('sec-a', byFlag.url);
    await byFlag.cli.waitFor(/authentication failed/);

    // The client credential runs cache operations but cannot change the config.
    const set = await runCli([
      'set',
      'k',
      'v',
      ...seed(byFlag),
      '--client-secret-file',
      clientFile,
    ]);
    expect([set.code, set.stdout]).toEqual([0, 'OK\n']);
    const get = await runCli(['get', 'k', ...seed(byFlag), '--client-secret-file', clientFile]);
    expect([get.code, get.stdout]).toEqual([0, 'v\n']);
    const status = await runCli(['status', '--json', ...seed(byFile)], {
      env: { SHOAL_CLIENT_SECRET: CLIENT_SECRET },
    });
    expect(status.code).toBe(0);
    const config = await runCli([
      'config',
      'set',
      'limits',
      'x',
      ...seed(byFlag),
      '--client-secret-file',
      clientFile,
    ]);
    expect(config.code).toBe(1);
    expect(linesOf(config.stderr).join('\n')).toContain('ERR_FORBIDDEN');

    const pages: string[] = [];
    for (const node of [byFlag, byFile]) {
      await eventually(async () => (await httpText(node, '/metrics')).includes('shoal_'));
      for (const path of ['/metrics', '/shoal/status', '/healthz', '/shoal/id']) {
        pages.push(await httpText(node, path));
      }
    }
    const stopped = await Promise.all(
      [byFlag, byFile].map((node) => {
        node.cli.kill('SIGTERM');
        return node.cli.exited;
      }),
    );
    const everything = [
      ...pages,
      ...stopped.flatMap((r) => [r.stdout, r.stderr]),
      ...failures.flatMap((r) => [r.stdout, r.stderr]),
      set.stdout + set.stderr + get.stderr + status.stdout + status.stderr + config.stderr,
    ].join('\n');
    expect(everything).not.toContain(NODE_SECRET);
    expect(everything).not.toContain(CLIENT_SECRET);
    // The debug logs did record the failed logins (so the check above saw them).
    const logged = stopped.map((r) => r.stderr).join('\n');
    expect(logged).toMatch(/authentication failed/);
    expect(logged).toMatch(/"level":"debug"/);
  });
});
