/**
 * `npm run bench resp`: redis-benchmark against shoal's RESP front end and against
 * redis-server, in one run, unpipelined and with `-P 16`.
 *
 * What "shoal" is here: one real shoal node (`Shoal.start`, RF 1, a single-node
 * cluster with its coordinator) with its RESP port in proxy mode (standalone Redis
 * semantics, so redis-benchmark's MSET over random keys is served rather than
 * refused with CROSSSLOT). Every command runs through the node's CacheNode: SET,
 * INCR and MSET on the primary's ordered write path, GET from the primary's store.
 * redis-benchmark authenticates with the cluster secret.
 *
 * The server under test runs in its own process from the compiled dist/
 * (`bench/support/resp-bench-node.mjs`; `npm run bench` builds dist/ first), as
 * redis-server does, so neither competes with this driver's event loop. Both servers
 * are killed in `finally`.
 *
 * Target: shoal >= 0.5x Redis requests/s unpipelined. The machine is shared with
 * other work (2 cores), so figures are noisy; the ratios are the meaningful part.
 * The last line is one JSON object with every figure.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const TESTS = ['SET', 'GET', 'INCR', 'MSET'] as const;
const REQUESTS = 200_000;
/** Requests per test in the unrecorded warm-up run (JIT for shoal, caches for both). */
const WARMUP_REQUESTS = 20_000;
const CLIENTS = 50;
const PIPELINES = [1, 16] as const;
/**
 * Measured rounds; each target's figure is its best round. The machine is shared, so
 * one round can land on a busy moment; both servers get the same treatment.
 */
const ROUNDS = 2;
const TARGET_UNPIPELINED_RATIO = 0.5;
const START_DEADLINE_MS = 15_000;
const BENCH_TIMEOUT_MS = 10 * 60_000;
const READY_PREFIX = 'RESP_BENCH_PORT ';
/** The bench node's cluster secret; redis-benchmark AUTHs with it. */
const SECRET = 'resp-bench-secret';

type TestName = (typeof TESTS)[number];

/** requests/s and latency percentiles of one redis-benchmark test. */
interface TestFigures {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

type RunFigures = Record<TestName, TestFigures>;

await main();

function requireBinary(name: string): string {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  if (found.status !== 0 || path === '') {
    throw new Error(
      `${name} not found: install Debian's redis-server and redis-tools (apt-get install -y redis-server redis-tools)`,
    );
  }
  return path;
}

function freePort(): Promise<number> {
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

/** Waits until `child` prints a line starting with `prefix`; returns the rest of it. */
function waitForLine(child: ChildProcess, prefix: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${prefix}" within ${START_DEADLINE_MS} ms`)),
      START_DEADLINE_MS,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        if (line.startsWith(prefix)) {
          clearTimeout(timer);
          resolve(line.slice(prefix.length).trim());
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited with ${code} before "${prefix}"`));
    });
  });
}

async function startShoal(): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./support/resp-bench-node.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, SECRET], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = Number(await waitForLine(child, READY_PREFIX));
  return { child, port };
}

async function startRedis(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const child = spawn(
    requireBinary('redis-server'),
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  return { child, port: await readyPort(child, port) };
}

/** Waits until redis-server answers PING. */
function readyPort(child: ChildProcess, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('redis-server did not start')),
      START_DEADLINE_MS,
    );
    const check = (): void => {
      const ping = spawnSync(requireBinary('redis-cli'), ['-p', String(port), 'PING'], {
        encoding: 'utf8',
      });
      if (ping.stdout.trim() === 'PONG') {
        clearTimeout(timer);
        resolve(port);
      } else if (child.exitCode !== null) {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${child.exitCode}`));
      } else {
        setTimeout(check, 50);
      }
    };
    check();
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Runs redis-benchmark in CSV mode and parses its rows. */
function redisBenchmark(
  port: number,
  pipeline: number,
  password: string | undefined,
  requests = REQUESTS,
): Promise<RunFigures> {
  const args = [
    ...(password === undefined ? [] : ['-a', password]),
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-t',
    TESTS.map((test) => test.toLowerCase()).join(','),
    '-n',
    String(requests),
    '-c',
    String(CLIENTS),
    '-P',
    String(pipeline),
    '--csv',
  ];
  return new Promise((resolve, reject) => {
    execFile(
      requireBinary('redis-benchmark'),
      args,
      { timeout: BENCH_TIMEOUT_MS, maxBuffer: 1024 * 1024 },
      (error, stdout) => {
        if (error !== null) {
          reject(error);
          return;
        }
        try {
          resolve(parseCsv(stdout));
        } catch (parseError) {
          reject(parseError);
        }
      },
    );
  });
}

function parseCsv(csv: string): RunFigures {
  const rows = new Map<string, string[]>();
  for (const line of csv.split('\n')) {
    const cells = line
      .trim()
      .split(',')
      .map((cell) => cell.replace(/^"|"$/g, ''));
    if (cells.length >= 8 && cells[0] !== 'test') rows.set(cells[0]!, cells);
  }
  const figures = {} as Record<TestName, TestFigures>;
  for (const test of TESTS) {
    const row = [...rows.entries()].find(([name]) => name.split(' ')[0] === test)?.[1];
    if (row === undefined) throw new Error(`redis-benchmark printed no ${test} row:\n${csv}`);
    figures[test] = { rps: Number(row[1]), p50Ms: Number(row[4]), p99Ms: Number(row[6]) };
  }
  return figures;
}

/** Per target, pipeline depth and test: the round with the most requests/s. */
function bestOf(
  rounds: readonly Record<'shoal' | 'redis', Record<string, RunFigures>>[],
): Record<'shoal' | 'redis', Record<string, RunFigures>> {
  const best: Record<'shoal' | 'redis', Record<string, RunFigures>> = { shoal: {}, redis: {} };
  for (const target of ['shoal', 'redis'] as const) {
    for (const pipeline of PIPELINES) {
      const key = `P${pipeline}`;
      const figures = {} as Record<TestName, TestFigures>;
      for (const test of TESTS) {
        const candidates = rounds.map((round) => round[target][key]![test]);
        figures[test] = candidates.reduce((a, b) => (b.rps > a.rps ? b : a));
      }
      best[target][key] = figures;
    }
  }
  return best;
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function main(): Promise<void> {
  requireBinary('redis-benchmark');
  let shoal: { child: ChildProcess; port: number } | undefined;
  let redis: { child: ChildProcess; port: number } | undefined;
  const rounds: Record<'shoal' | 'redis', Record<string, RunFigures>>[] = [];
  try {
    shoal = await startShoal();
    redis = await startRedis();
    for (const [port, password] of [
      [shoal.port, SECRET],
      [redis.port, undefined],
    ] as const) {
      for (const pipeline of PIPELINES) {
        await redisBenchmark(port, pipeline, password, WARMUP_REQUESTS);
      }
    }
    for (let round = 0; round < ROUNDS; round++) {
      const figures: Record<'shoal' | 'redis', Record<string, RunFigures>> = {
        shoal: {},
        redis: {},
      };
      for (const pipeline of PIPELINES) {
        // Alternate who goes first, so neither server always meets the same moment.
        const order =
          (round + pipeline) % 2 === 0
            ? (['shoal', 'redis'] as const)
            : (['redis', 'shoal'] as const);
        for (const target of order) {
          const port = target === 'shoal' ? shoal.port : redis.port;
          const password = target === 'shoal' ? SECRET : undefined;
          figures[target][`P${pipeline}`] = await redisBenchmark(port, pipeline, password);
        }
      }
      rounds.push(figures);
    }
  } finally {
    await stop(shoal?.child);
    await stop(redis?.child);
  }
  const results = bestOf(rounds);

  const ratios: Record<string, Record<TestName, number>> = {};
  console.log(
    `redis-benchmark -t ${TESTS.join(',').toLowerCase()} -n ${REQUESTS} -c ${CLIENTS} [-P 16], best of ${ROUNDS} rounds`,
  );
  console.log('shoal = one shoal node (Shoal.start, RF 1) on its RESP port; redis = redis-server');
  console.log(
    'pipeline  test   shoal rps   redis rps   ratio   shoal p50/p99 ms   redis p50/p99 ms',
  );
  for (const pipeline of PIPELINES) {
    const key = `P${pipeline}`;
    ratios[key] = {} as Record<TestName, number>;
    for (const test of TESTS) {
      const ours = results.shoal[key]![test];
      const theirs = results.redis[key]![test];
      const ratio = round(ours.rps / theirs.rps);
      ratios[key]![test] = ratio;
      console.log(
        `${key.padEnd(9)} ${test.padEnd(5)} ${String(round(ours.rps, 0)).padStart(10)}  ${String(round(theirs.rps, 0)).padStart(10)}  ${ratio.toFixed(2).padStart(6)}   ${`${ours.p50Ms}/${ours.p99Ms}`.padStart(16)}   ${`${theirs.p50Ms}/${theirs.p99Ms}`.padStart(16)}`,
      );
    }
  }
  const unpipelined = TESTS.map((test) => ratios.P1![test]);
  const minUnpipelinedRatio = Math.min(...unpipelined);
  const meetsTarget = minUnpipelinedRatio >= TARGET_UNPIPELINED_RATIO;
  console.log(
    `unpipelined ratio min ${minUnpipelinedRatio.toFixed(2)} (target >= ${TARGET_UNPIPELINED_RATIO}): ${meetsTarget ? 'met' : 'NOT met'}; pipelined (-P 16) ratios ${TESTS.map((test) => `${test} ${ratios.P16![test].toFixed(2)}`).join(', ')}`,
  );
  console.log('note: 2 shared cores, other work running; figures are noisy');
  console.log(
    JSON.stringify({
      bench: 'resp',
      shoalTarget: 'one shoal node (Shoal.start, RF 1), RESP port in proxy mode',
      requests: REQUESTS,
      clients: CLIENTS,
      rounds: ROUNDS,
      results,
      allRounds: rounds,
      ratios,
      minUnpipelinedRatio,
      targetUnpipelinedRatio: TARGET_UNPIPELINED_RATIO,
      unpipelinedTargetMet: meetsTarget,
    }),
  );
}
