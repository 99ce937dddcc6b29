/**
 * `npm run bench transport`: request/reply round trips over loopback between two
 * processes, shoal's WsTransport against a raw `ws` + msgpackr echo.
 *
 * - `raw ws`: one WebSocket frame per request and per reply, each a msgpackr-encoded
 *   `{ i, b }`, correlated by id: what a straightforward RPC over `ws` does.
 * - `shoal (immediate)` / `shoal (microtask)`: WsTransport (authenticated, batched,
 *   envelope records), with the batch flushed on setImmediate (the default) or on a
 *   microtask, both ends configured alike.
 *
 * Method: each server runs in its own child process (bench/support/
 * transport-echo-server.ts), started once and killed at the end. The client keeps
 * CONCURRENCY requests in flight (each of CONCURRENCY loops sends its next request
 * when its reply arrives) with a small message. After a warm-up round per
 * implementation, TIMED_ROUNDS rounds run interleaved (raw, shoal, shoal, raw, ...)
 * so machine noise hits all alike; each round is bounded by a request count and a
 * time budget. Reported: the median round's requests/s, and p50/p99 latency over
 * all timed requests of an implementation. The target is shoal (default flush)
 * >= 2x raw requests/s.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { pack, unpack } from 'msgpackr';
import WebSocket from 'ws';
import { WsTransport } from '../src/transport/ws-transport.js';

const SECRET = 'bench-secret';
const CONCURRENCY = 50;
const WARMUP_REQUESTS = 20_000;
const TIMED_ROUNDS = 5;
const REQUESTS_PER_ROUND = 100_000;
const ROUND_BUDGET_MS = 4_000;
const REQUEST_TIMEOUT_MS = 10_000;
const SERVER_START_TIMEOUT_MS = 20_000;
const TARGET_RATIO = 2;

/** A typical small cache operation. */
const MESSAGE = { op: 'get', key: 'user:12345', ttlMs: 60_000, value: { name: 'Ada', n: 42 } };

const here = dirname(fileURLToPath(import.meta.url));
const serverScript = join(here, 'support', 'transport-echo-server.ts');

interface Server {
  child: ChildProcess;
  port: number;
}

async function startServer(args: string[]): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', serverScript, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const stdout = child.stdout;
  if (!stdout) throw new Error('no stdout from the echo server');
  const lines = createInterface({ input: stdout });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`echo server ${args.join(' ')} did not start`)),
      SERVER_START_TIMEOUT_MS,
    );
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  return { child, port };
}

async function stopServer(server: Server): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
  await exited;
  clearTimeout(timer);
}

/** Something that sends one request and resolves with its reply. */
interface Rpc {
  name: string;
  call(message: unknown): Promise<unknown>;
  close(): Promise<void>;
}

async function shoalRpc(port: number, batchFlush: 'immediate' | 'microtask'): Promise<Rpc> {
  const client = WsTransport.client({ id: 'bench-client', secret: SECRET, batchFlush });
  client.addPeer('bench-server', `127.0.0.1:${port}`);
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  while (!client.isConnected('bench-server')) {
    if (Date.now() > deadline) throw new Error('shoal client did not connect');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const options = { timeoutMs: REQUEST_TIMEOUT_MS };
  return {
    name: `shoal (${batchFlush})`,
    call: (message) => client.request('bench-server', 'echo', message, options),
    close: () => client.close(),
  };
}

async function rawRpc(port: number): Promise<Rpc> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const pending = new Map<number, (reply: unknown) => void>();
  let nextId = 0;
  ws.on('message', (data: Buffer) => {
    const reply = unpack(data) as { i: number; b: unknown };
    const resolve = pending.get(reply.i);
    pending.delete(reply.i);
    resolve?.(reply.b);
  });
  return {
    name: 'raw ws',
    call: (message) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        ws.send(pack({ i: id, b: message }));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      }),
  };
}

interface RoundResult {
  requests: number;
  seconds: number;
  latenciesMs: number[];
}

/** CONCURRENCY loops, each sending its next request when its reply arrives. */
async function round(rpc: Rpc, maxRequests: number): Promise<RoundResult> {
  const latenciesMs: number[] = [];
  let issued = 0;
  const start = performance.now();
  const deadline = start + ROUND_BUDGET_MS;
  const worker = async (): Promise<void> => {
    while (issued < maxRequests && performance.now() < deadline) {
      issued++;
      const sent = performance.now();
      const reply = (await rpc.call(MESSAGE)) as typeof MESSAGE;
      latenciesMs.push(performance.now() - sent);
      if (reply.key !== MESSAGE.key) throw new Error(`${rpc.name} answered with the wrong body`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { requests: latenciesMs.length, seconds: (performance.now() - start) / 1000, latenciesMs };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Summary {
  name: string;
  reqPerSec: number;
  roundsReqPerSec: number[];
  p50Ms: number;
  p99Ms: number;
  requests: number;
}

async function main(): Promise<void> {
  const servers: Server[] = [];
  const rpcs: Rpc[] = [];
  try {
    const rawServer = await startServer(['raw']);
    servers.push(rawServer);
    const immediateServer = await startServer(['shoal', 'immediate']);
    servers.push(immediateServer);
    const microtaskServer = await startServer(['shoal', 'microtask']);
    servers.push(microtaskServer);
    const raw = await rawRpc(rawServer.port);
    rpcs.push(raw);
    const immediate = await shoalRpc(immediateServer.port, 'immediate');
    rpcs.push(immediate);
    const microtask = await shoalRpc(microtaskServer.port, 'microtask');
    rpcs.push(microtask);

    for (const rpc of rpcs) await round(rpc, WARMUP_REQUESTS);
    const rounds = new Map<Rpc, RoundResult[]>(rpcs.map((rpc) => [rpc, []]));
    for (let r = 0; r < TIMED_ROUNDS; r++) {
      // Alternate the order so no implementation always runs right after another.
      const order = r % 2 === 0 ? rpcs : [...rpcs].reverse();
      for (const rpc of order) rounds.get(rpc)?.push(await round(rpc, REQUESTS_PER_ROUND));
    }

    const summaries: Summary[] = rpcs.map((rpc) => {
      const results = rounds.get(rpc) ?? [];
      const all = results.flatMap((result) => result.latenciesMs).sort((a, b) => a - b);
      const perRound = results.map((result) => result.requests / result.seconds);
      return {
        name: rpc.name,
        reqPerSec: median(perRound),
        roundsReqPerSec: perRound.map(Math.round),
        p50Ms: percentile(all, 50),
        p99Ms: percentile(all, 99),
        requests: all.length,
      };
    });

    console.log(
      `transport: ${CONCURRENCY} in flight, loopback, two processes, ${TIMED_ROUNDS} rounds ` +
        `of <= ${REQUESTS_PER_ROUND} requests / ${ROUND_BUDGET_MS} ms (2 shared cores: noisy)`,
    );
    console.log(
      `${'implementation'.padEnd(20)} ${'req/s'.padStart(10)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'requests'.padStart(9)}`,
    );
    for (const s of summaries) {
      console.log(
        `${s.name.padEnd(20)} ${Math.round(s.reqPerSec).toString().padStart(10)} ${s.p50Ms.toFixed(3).padStart(8)} ${s.p99Ms.toFixed(3).padStart(8)} ${s.requests.toString().padStart(9)}`,
      );
    }
    const [rawSummary, immediateSummary, microtaskSummary] = summaries;
    const rawRate = rawSummary?.reqPerSec ?? Number.NaN;
    const ratios = {
      shoalImmediateVsRaw: (immediateSummary?.reqPerSec ?? Number.NaN) / rawRate,
      shoalMicrotaskVsRaw: (microtaskSummary?.reqPerSec ?? Number.NaN) / rawRate,
    };
    console.log(
      `shoal (immediate) / raw = ${ratios.shoalImmediateVsRaw.toFixed(2)}x, ` +
        `shoal (microtask) / raw = ${ratios.shoalMicrotaskVsRaw.toFixed(2)}x ` +
        `(target >= ${TARGET_RATIO}x for the default, immediate)`,
    );
    console.log(
      JSON.stringify({
        bench: 'transport',
        node: process.version,
        concurrency: CONCURRENCY,
        message: MESSAGE,
        results: summaries,
        ratios,
        targets: {
          shoalVsRawReqPerSec: {
            target: TARGET_RATIO,
            actual: ratios.shoalImmediateVsRaw,
            met: ratios.shoalImmediateVsRaw >= TARGET_RATIO,
          },
        },
      }),
    );
  } finally {
    for (const rpc of rpcs) await rpc.close().catch(() => {});
    for (const server of servers) await stopServer(server);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
