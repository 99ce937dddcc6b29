/**
 * `npm run bench coord`: the coordinator across real processes on loopback (three
 * voters, WsTransport, FileStorage with fsync, default timeouts: tickMs 50,
 * election timeout 6 ticks).
 *
 * (a) kill -9 of the leader -> first successful config write under the new leader,
 *     as seen by writers looping on the survivors (median, p99 over N trials);
 * (b) the same when the leader hangs (SIGSTOP): no connection closes, so followers
 *     must notice missing pings; afterwards the old leader gets SIGCONT and kill -9;
 * (c) committed config writes per second with three voters (64 writers in flight,
 *     on the leader and through a follower).
 *
 * Times come from `process.hrtime` (CLOCK_MONOTONIC, shared by every process on the
 * machine). ZooKeeper is not installed here, so its figures are the reference values
 * from the issue (measured on this kind of machine), not a run of it.
 * Env: COORD_BENCH_KILL_TRIALS (default 25), COORD_BENCH_STOP_TRIALS (15),
 * COORD_BENCH_THROUGHPUT_MS (3000).
 */
import { type CoordProcess, CoordProcessCluster } from '../test/fixtures/coord-process.js';

const killTrials = Number(process.env.COORD_BENCH_KILL_TRIALS ?? 25);
const stopTrials = Number(process.env.COORD_BENCH_STOP_TRIALS ?? 15);
const throughputMs = Number(process.env.COORD_BENCH_THROUGHPUT_MS ?? 3000);
/** Reference figures from the issue (ZooKeeper 3.8, 3 servers, this kind of machine). */
const ZK_KILL_MEDIAN_MS = 450;
const ZK_SIGSTOP_DEFAULT_MS = 10_400;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | null>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until all three run, agree on a leader, and every one is in the view. */
async function healthy(c: CoordProcessCluster): Promise<{ id: string; epoch: number }> {
  const leader = await c.agreedLeader(30_000);
  await waitFor('a full view', 30_000, async () => {
    const statuses = await Promise.all(c.nodes.map((n) => n.status()));
    return statuses.every((s) => s.members.length === 3 && s.role !== 'looking') ? true : undefined;
  });
  return leader;
}

/** One failover trial: returns ms from the fault to the first write committed under a new leader. */
async function failoverTrial(c: CoordProcessCluster, how: 'kill' | 'stop'): Promise<number> {
  const leader = await healthy(c);
  const victim = c.node(leader.id);
  const survivors = c.nodes.filter((n) => n !== victim);
  await Promise.all(survivors.map((n, i) => n.call('writeLoop', { concurrency: 1, key: `w${i}` })));
  // The writers are warm: each has committed through the current leader.
  await Promise.all(
    survivors.map((n) =>
      waitFor(`${n.id} warm`, 10_000, () =>
        n.call('loopPeek', { afterNs: '0', minEpoch: leader.epoch }),
      ),
    ),
  );
  const faultNs = process.hrtime.bigint();
  if (how === 'kill') victim.signal('SIGKILL');
  else victim.signal('SIGSTOP');
  const firsts = await Promise.all(
    survivors.map((n) =>
      waitFor(`${n.id} first write after the fault`, 20_000, () =>
        n.call<[string, number] | null>('loopPeek', {
          afterNs: faultNs.toString(),
          minEpoch: leader.epoch + 1,
        }),
      ),
    ),
  );
  // BigInt has no Math.min: take the earliest by hand.
  let firstNs = BigInt(firsts[0]![0]);
  for (const [ns] of firsts) if (BigInt(ns) < firstNs) firstNs = BigInt(ns);
  await Promise.all(survivors.map((n) => n.call('loopReport')));
  await victim.kill(); // SIGCONT + SIGKILL for a stopped one
  await c.restart(victim.id);
  return Number(firstNs - faultNs) / 1e6;
}

async function throughput(writer: CoordProcess): Promise<number> {
  await writer.call('writeLoop', { concurrency: 64, key: `t-${writer.id}` });
  const startNs = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, throughputMs));
  const report = await writer.call<{ successes: Array<[string, number]> }>('loopReport');
  const endNs = process.hrtime.bigint();
  const counted = report.successes.filter(
    ([ns]) => BigInt(ns) >= startNs && BigInt(ns) <= endNs,
  ).length;
  return counted / (Number(endNs - startNs) / 1e9);
}

async function main(): Promise<void> {
  const c = new CoordProcessCluster(3);
  const stopOnSignal = (): void => {
    void c.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    await c.startAll();
    await healthy(c);

    const killMs: number[] = [];
    for (let i = 0; i < killTrials; i++) killMs.push(await failoverTrial(c, 'kill'));
    const stopMs: number[] = [];
    for (let i = 0; i < stopTrials; i++) stopMs.push(await failoverTrial(c, 'stop'));

    const leader = await healthy(c);
    const onLeader = await throughput(c.node(leader.id));
    const follower = c.nodes.find((n) => n.id !== leader.id)!;
    const viaFollower = await throughput(follower);

    killMs.sort((a, b) => a - b);
    stopMs.sort((a, b) => a - b);
    const result = {
      bench: 'coord',
      voters: 3,
      tickMs: 50,
      electionTimeoutTicks: 6,
      killTrials,
      killMedianMs: Math.round(percentile(killMs, 50)),
      killP99Ms: Math.round(percentile(killMs, 99)),
      killMaxMs: Math.round(killMs.at(-1) ?? Number.NaN),
      stopTrials,
      stopMedianMs: Math.round(percentile(stopMs, 50)),
      stopP99Ms: Math.round(percentile(stopMs, 99)),
      writesPerSecLeader: Math.round(onLeader),
      writesPerSecViaFollower: Math.round(viaFollower),
      zkKillMedianMsReference: ZK_KILL_MEDIAN_MS,
      zkStopDefaultMsReference: ZK_SIGSTOP_DEFAULT_MS,
      killMedianVsZk: Number((ZK_KILL_MEDIAN_MS / percentile(killMs, 50)).toFixed(2)),
      stopMedianVsZkDefault: Number((ZK_SIGSTOP_DEFAULT_MS / percentile(stopMs, 50)).toFixed(2)),
      targetKillMedianMet: percentile(killMs, 50) < 450,
      targetKillP99Met: percentile(killMs, 99) < 1000,
      targetStopMedianMet: percentile(stopMs, 50) < 1500,
    };
    const rows: Array<[string, string, string]> = [
      [
        '(a) kill -9 leader -> first write, median',
        `${result.killMedianMs} ms`,
        `< 450 ms (ZooKeeper ~${ZK_KILL_MEDIAN_MS} ms)`,
      ],
      ['(a) kill -9 leader -> first write, p99', `${result.killP99Ms} ms`, '< 1000 ms'],
      [
        '(b) SIGSTOP leader -> first write, median',
        `${result.stopMedianMs} ms`,
        `< 1500 ms (ZooKeeper defaults ~${ZK_SIGSTOP_DEFAULT_MS} ms)`,
      ],
      ['(b) SIGSTOP leader -> first write, p99', `${result.stopP99Ms} ms`, ''],
      ['(c) committed writes/s, 64 writers on the leader', `${result.writesPerSecLeader}`, ''],
      [
        '(c) committed writes/s, 64 writers via a follower',
        `${result.writesPerSecViaFollower}`,
        '',
      ],
    ];
    console.log(
      `coordinator, 3 voter processes on loopback, ${killTrials} kill / ${stopTrials} stop trials`,
    );
    console.log('(2 shared cores: other work on the machine makes these numbers noisy)');
    for (const [name, value, target] of rows)
      console.log(`${name.padEnd(52)} ${value.padStart(10)}   ${target}`);
    console.log(`kill samples (ms): ${killMs.map((x) => Math.round(x)).join(' ')}`);
    console.log(`stop samples (ms): ${stopMs.map((x) => Math.round(x)).join(' ')}`);
    console.log(JSON.stringify(result));
  } finally {
    await c.destroy();
  }
}

await main();
