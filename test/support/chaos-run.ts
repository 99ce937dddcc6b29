/**
 * One nemesis run over real node processes: clients record every operation while the
 * seeded nemesis injects faults, then the run heals the cluster and checks it.
 *
 * Checked after every run:
 * - the history of single-key operations (primary reads, `writeConcern: 'all'`) is
 *   linearizable, including one final read of every register key after healing;
 * - every acknowledged write of a write-once key is present with its value;
 * - every owner of every checked key answers the primary's value (`readFrom: 'any'`
 *   read once per owner in a row: the client's owner cursor steps through the owners
 *   in turn);
 * - no node process's peak RSS exceeded `maxMemory` plus the stated overhead.
 */
import { ShoalClient } from '../../src/api/shoal-client.js';
import { Placement } from '../../src/cluster/placement.js';
import { partitionOf } from '../../src/ring/partitioner.js';
import { SeededRandom } from '../../src/util/random.js';
import { ChaosCluster } from './chaos-cluster.js';
import { ChaosHistory, errorCode, type Invocation } from './chaos-history.js';
import {
  FAULT_KINDS,
  type FaultKind,
  type FaultRecord,
  runFault,
  waitRecovered,
} from './chaos-nemesis.js';
import { checkLinearizability, formatOperation } from './linearizability.js';

/** Settings of {@link runChaos}. */
export interface ChaosRunOptions {
  readonly seed: number;
  readonly nodes: number;
  /**
   * Owners per partition. With 2, a fault that cuts off two nodes at once (a 2/3
   * split of five) can isolate both owners of a partition: beyond the guarantee,
   * which covers single-node faults. Use 3 for splits of five nodes.
   */
  readonly replicationFactor: number;
  /** How long clients and nemesis run before the final checks (see `minFaults`). */
  readonly durationMs: number;
  /**
   * Faults the run injects even past `durationMs` (a loaded machine recovers slowly),
   * up to `maxDurationMs`; a run with fewer faults tested too little.
   */
  readonly minFaults: number;
  /** Hard bound on the client and nemesis phase. */
  readonly maxDurationMs: number;
  readonly workers: number;
  /** Register keys live at a time (a fresh set after every fault keeps histories small). */
  readonly registerKeys: number;
  readonly faultKinds: readonly FaultKind[];
  /** How long each fault is held; must outlast the 2.5 s session timeout. */
  readonly holdMs: number;
  /** Quiet time between a recovery and the next fault. */
  readonly quietMs: number;
  readonly maxMemoryBytes: number;
  /** RSS a node may use beyond `maxMemory`: Node, tsx, V8 heap and buffers. */
  readonly rssOverheadBytes: number;
  /** Progress lines (one per fault); default none. */
  readonly log?: (line: string) => void;
}

/** Defaults of the bounded run the default test suite does. */
export const SHORT_RUN: Omit<ChaosRunOptions, 'seed'> = {
  nodes: 3,
  replicationFactor: 2,
  durationMs: 40_000,
  minFaults: 3,
  maxDurationMs: 75_000,
  workers: 4,
  registerKeys: 3,
  faultKinds: FAULT_KINDS,
  holdMs: 3_500,
  quietMs: 1_000,
  maxMemoryBytes: 64 * 1024 * 1024,
  rssOverheadBytes: 256 * 1024 * 1024,
};

/** What a run found; `violations` and `lostWrites` must be 0. */
export interface ChaosSummary {
  seed: number;
  nodes: number;
  durationMs: number;
  operations: number;
  ok: number;
  notApplied: number;
  unknown: number;
  faults: number;
  faultsByKind: Record<string, number>;
  /** Faults after which the cluster was not back to every node settled in time. */
  notRecovered: number;
  /** Whether every node was in the view and settled before the final checks. */
  finalRecovered: boolean;
  finalStatus: string;
  nemesisErrors: string[];
  /** Every fault, on the history's clock (`performance.now()` ms). */
  faultLog: string[];
  /** Median and slowest recovery after a heal, in ms (see `FaultRecord.recoveryMs`). */
  recoveryMedianMs: number;
  recoveryMaxMs: number;
  replicationFactor: number;
  linearizability: 'linearizable' | 'not-linearizable' | 'unknown';
  violations: number;
  violationReport?: string;
  ackedWrites: number;
  lostWrites: number;
  /** The first lost writes: key, when its ack arrived (history clock), what was read. */
  lostWriteKeys: string[];
  /** Keys whose owners did not all answer the primary's value after healing. */
  divergentKeys: number;
  /** The first divergent keys and what their owners answered. */
  divergentDetails: string[];
  /** Keys the final checks could not read at all (counted as neither lost nor kept). */
  unreadableKeys: number;
  peakRssMiB: Record<string, number>;
  rssLimitMiB: number;
  rssOverLimit: string[];
  failureCodes: Record<string, number>;
  /** Connections through the proxies by `dialer->node` (see `connectionsByLink`). */
  connections: Record<string, number>;
}

/** Most operations one worker issues per run, whatever the duration. */
const MAX_OPS_PER_WORKER = 200_000;
/** Most faults per run. */
const MAX_FAULTS = 10_000;
/** How long the final checks may keep retrying a read. */
const FINAL_READ_BUDGET_MS = 30_000;
/** Keys per final mget. */
const FINAL_BATCH_KEYS = 200;
/** How often node memory is sampled. */
const MEMORY_SAMPLE_MS = 250;
const MIB = 1024 * 1024;

/** A timer that resolves after `ms`, or at once when `signal` aborts. */
function hold(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retries `read` until it succeeds or the final-read budget is spent. */
async function readWithRetry<T>(read: () => Promise<T>, deadline: number): Promise<T | Error> {
  let last: unknown;
  for (let attempt = 0; attempt < 1_000 && Date.now() < deadline; attempt++) {
    try {
      return await read();
    } catch (error) {
      last = error;
    }
  }
  return last instanceof Error ? last : new Error(`final read failed: ${errorCode(last)}`);
}

/** Runs one nemesis run; always stops every process it started. */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosSummary> {
  const secret = `chaos-secret-${options.seed}`;
  const log = options.log ?? (() => {});
  const random = new SeededRandom(options.seed);
  const cluster = await ChaosCluster.start({
    nodes: options.nodes,
    secret,
    maxMemoryBytes: options.maxMemoryBytes,
    startTimeoutMs: 30_000,
    replicationFactor: options.replicationFactor,
  });
  const clients: ShoalClient[] = [];
  const stopRun = new AbortController();
  const sampler = setInterval(() => cluster.sampleMemory(), MEMORY_SAMPLE_MS);
  try {
    const connect = (): Promise<ShoalClient> =>
      ShoalClient.connect({
        seeds: cluster.seeds,
        secret,
        requestTimeoutMs: 1_500,
        operationTimeoutMs: 4_000,
      });
    for (let w = 0; w < options.workers + 1; w++) clients.push(await connect());
    const history = new ChaosHistory();
    const startMs = Date.now();
    const stopAt = startMs + options.durationMs;
    const hardStopAt = startMs + Math.max(options.durationMs, options.maxDurationMs);
    let nemesisDone = false;
    let keyEpoch = 0;
    const registerKeysUsed = new Set<string>();
    const ackedWrites = new Map<string, number>();
    const ackedAtMs = new Map<string, number>();

    const worker = async (w: number, client: ShoalClient): Promise<void> => {
      const rnd = new SeededRandom(options.seed * 7919 + w + 1);
      for (
        let seq = 0;
        seq < MAX_OPS_PER_WORKER && !nemesisDone && Date.now() < hardStopAt && !history.full;
        seq++
      ) {
        const epoch = keyEpoch > 0 && rnd.int(5) === 0 ? keyEpoch - 1 : keyEpoch;
        const key = `r${epoch}:${rnd.int(options.registerKeys)}`;
        registerKeysUsed.add(key);
        const unique = w * 10_000_000 + seq;
        const dice = rnd.int(100);
        const by = 1 + rnd.int(3);
        if (dice < 10) {
          const uniqueKey = `u:${w}:${seq}`;
          const invocation: Invocation = { op: 'set', input: unique };
          const outcome = await history.record(`w${w}`, uniqueKey, invocation, () =>
            client.set(uniqueKey, unique),
          );
          if (outcome === 'ok') {
            ackedWrites.set(uniqueKey, unique);
            ackedAtMs.set(uniqueKey, Math.round(performance.now()));
          }
          continue;
        }
        const [invocation, execute]: [Invocation, () => Promise<unknown>] =
          dice < 45
            ? [{ op: 'get' }, () => client.get(key)]
            : dice < 70
              ? [{ op: 'set', input: unique }, () => client.set(key, unique)]
              : dice < 85
                ? [{ op: 'incr', input: by }, () => client.incr(key, by)]
                : dice < 95
                  ? [{ op: 'delete' }, () => client.delete(key)]
                  : [{ op: 'setnx', input: unique }, () => client.set(key, unique, { nx: true })];
        await history.record(`w${w}`, key, invocation, execute);
      }
    };
    const workers = clients.slice(1).map((client, w) =>
      worker(w, client).catch((error: unknown) => {
        throw new Error(`worker ${w} crashed: ${String(error)}`);
      }),
    );

    const faults: FaultRecord[] = [];
    const nemesis = (async () => {
      for (let f = 0; f < MAX_FAULTS; f++) {
        await hold(options.quietMs, stopRun.signal);
        const until = faults.length < options.minFaults ? hardStopAt : stopAt;
        if (Date.now() + options.holdMs >= until || options.faultKinds.length === 0) return;
        const kind = options.faultKinds[random.int(options.faultKinds.length)]!;
        const record = await runFault(
          cluster,
          random,
          kind,
          { holdMs: options.holdMs, recoverMs: 30_000 },
          (ms) => hold(ms, stopRun.signal),
        );
        faults.push(record);
        keyEpoch++;
        log(
          `fault ${faults.length} ${record.kind} ${record.targets.join(',')} at ${record.atMs} ms: ` +
            `${record.recovered ? `recovered in ${record.recoveryMs} ms` : 'NOT recovered'}${record.error ? ` (${record.error})` : ''} ` +
            `ops ${history.counts.ok}/${history.counts.notApplied}/${history.counts.unknown}`,
        );
      }
    })();
    await nemesis.finally(() => {
      nemesisDone = true;
    });
    await Promise.all(workers);

    cluster.heal();
    const finalRecovery = await waitRecovered(cluster, 30_000);
    const checker = clients[0]!;
    const deadline = Date.now() + FINAL_READ_BUDGET_MS;
    let unreadableKeys = 0;
    for (const key of [...registerKeysUsed].sort()) {
      // One operation spanning every attempt: a failed read has no effect, so the
      // read took effect somewhere between the first call and the last return.
      const outcome = await history.record('final', key, { op: 'get' }, async () => {
        const value = await readWithRetry(() => checker.get(key), deadline);
        if (value instanceof Error) throw value;
        return value;
      });
      if (outcome !== 'ok') unreadableKeys++;
    }

    const lostWriteKeys: string[] = [];
    const ownersNow = (key: string): string => {
      const view = checker.view();
      if (view === undefined) return 'unknown';
      try {
        return Placement.of(view, options.replicationFactor).ownersOf(partitionOf(key)).join(',');
      } catch (error) {
        return `unplaceable (${errorCode(error)})`;
      }
    };
    const acked = [...ackedWrites];
    for (let start = 0; start < acked.length; start += FINAL_BATCH_KEYS) {
      const batch = acked.slice(start, start + FINAL_BATCH_KEYS);
      const values = await readWithRetry(() => checker.mget(batch.map(([key]) => key)), deadline);
      if (values instanceof Error) {
        unreadableKeys += batch.length;
        continue;
      }
      batch.forEach(([key, expected], i) => {
        if (values[i] !== expected) {
          lostWriteKeys.push(
            `${key} (partition ${partitionOf(key)}, owners now ${ownersNow(key)}) acked at ${ackedAtMs.get(key)} ms, read ${String(values[i])}`,
          );
        }
      });
    }

    // Its own budget, growing with the keys: one read per owner of every key.
    const convergeKeys = [...registerKeysUsed, ...acked.map(([key]) => key)];
    const convergeDeadline =
      Date.now() + FINAL_READ_BUDGET_MS + convergeKeys.length * options.replicationFactor;
    /** `undefined` when every owner answered the primary's value; else what differed. */
    const ownersDisagree = async (key: string): Promise<string | undefined> => {
      const primary = await readWithRetry(() => checker.get(key), convergeDeadline);
      if (primary instanceof Error) return 'unreadable';
      for (let owner = 0; owner < options.replicationFactor; owner++) {
        const replica = await readWithRetry(
          () => checker.get(key, { readFrom: 'any' }),
          convergeDeadline,
        );
        if (replica instanceof Error) return 'unreadable';
        if (replica !== primary) return `primary ${String(primary)}, an owner ${String(replica)}`;
      }
      return undefined;
    };
    const suspects: string[] = [];
    for (const key of convergeKeys) {
      const disagreement = await ownersDisagree(key);
      if (disagreement === 'unreadable') unreadableKeys++;
      else if (disagreement !== undefined) suspects.push(key);
    }
    // A second look tells a replica that was still catching up from a divergent one.
    const divergent: string[] = [];
    for (const key of suspects) {
      const disagreement = await ownersDisagree(key);
      if (disagreement !== undefined) divergent.push(`${key}: ${disagreement}`);
    }

    const verdict = checkLinearizability(history.history());
    const violationReport =
      verdict.verdict === 'not-linearizable'
        ? `${verdict.reason}\nminimal history of ${verdict.key}:\n${verdict.counterexample.minimalOperations.map(formatOperation).join('\n')}`
        : verdict.verdict === 'unknown'
          ? verdict.reason
          : undefined;

    cluster.sampleMemory();
    const peak = cluster.peakRss();
    const limit = options.maxMemoryBytes + options.rssOverheadBytes;
    const recoveries = faults
      .flatMap((fault) => (fault.recoveryMs === undefined ? [] : [fault.recoveryMs]))
      .sort((a, b) => a - b);
    const faultsByKind: Record<string, number> = {};
    for (const fault of faults) faultsByKind[fault.kind] = (faultsByKind[fault.kind] ?? 0) + 1;
    const summary: ChaosSummary = {
      seed: options.seed,
      nodes: options.nodes,
      durationMs: Date.now() - startMs,
      operations: history.counts.ok + history.counts.notApplied + history.counts.unknown,
      ok: history.counts.ok,
      notApplied: history.counts.notApplied,
      unknown: history.counts.unknown,
      faults: faults.length,
      faultsByKind,
      notRecovered: faults.filter((fault) => !fault.recovered).length,
      finalRecovered: finalRecovery.recovered,
      finalStatus: finalRecovery.lastStatus,
      faultLog: faults.map(
        (fault) =>
          `${fault.kind} ${fault.targets.join(',')} ${fault.atMs}-${fault.healedAtMs ?? '?'} ms`,
      ),
      recoveryMedianMs: recoveries[Math.floor(recoveries.length / 2)] ?? 0,
      recoveryMaxMs: recoveries.at(-1) ?? 0,
      replicationFactor: options.replicationFactor,
      nemesisErrors: faults.flatMap((fault) => (fault.error === undefined ? [] : [fault.error])),
      linearizability: verdict.verdict,
      violations: verdict.verdict === 'not-linearizable' ? 1 : 0,
      ackedWrites: acked.length,
      lostWrites: lostWriteKeys.length,
      lostWriteKeys: lostWriteKeys.slice(0, 20),
      divergentKeys: divergent.length,
      divergentDetails: divergent.slice(0, 20),
      unreadableKeys,
      peakRssMiB: Object.fromEntries(
        Object.entries(peak).map(([id, bytes]) => [id, Math.round(bytes / MIB)]),
      ),
      rssLimitMiB: Math.round(limit / MIB),
      rssOverLimit: Object.entries(peak)
        .filter(([, bytes]) => bytes > limit)
        .map(([id]) => id),
      failureCodes: Object.fromEntries(history.failureCodes),
      connections: cluster.connectionsByLink(),
    };
    if (violationReport !== undefined) summary.violationReport = violationReport;
    return summary;
  } finally {
    stopRun.abort();
    clearInterval(sampler);
    for (const client of clients) await client.stop().catch(() => {});
    await cluster.stop();
  }
}
