import type { WriteConcern } from '../cluster/cache-api.js';
import type { CacheNodeStats } from '../cluster/cache-node.js';
import type { CoordinatorStatus } from '../coord/coordinator.js';
import type { CoordRole } from '../coord/ready.js';

/** Content type of the Prometheus text exposition format this module renders. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const WRITE_CONCERNS: readonly WriteConcern[] = ['one', 'quorum', 'all'];

/** Every coordinator role, so the role gauge always has the same series (one of them 1). */
const COORD_ROLES: readonly CoordRole[] = ['leader', 'follower', 'learner', 'looking'];

type MetricType = 'counter' | 'gauge';

interface Sample {
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Metric {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: readonly Sample[];
}

/**
 * Renders a node's cache stats and coordinator status as Prometheus text exposition
 * format 0.0.4. Only counts, states and ids appear: never keys, values or the secret.
 */
export function renderMetrics(stats: CacheNodeStats, status: CoordinatorStatus): string {
  const metrics: Metric[] = [
    gauge('shoal_node_info', 'Constant 1, labelled with this node id.', 1, {
      node_id: stats.nodeId,
    }),
    counter(
      'shoal_cache_hits_total',
      'Reads served from this node store that found the key.',
      stats.hits,
    ),
    counter(
      'shoal_cache_misses_total',
      'Reads served from this node store that did not find the key.',
      stats.misses,
    ),
    counter('shoal_cache_sets_total', 'Writes applied through this node.', stats.sets),
    counter('shoal_cache_deletes_total', 'Deletes applied through this node.', stats.deletes),
    counter('shoal_cache_incrs_total', 'Increments applied through this node.', stats.incrs),
    counter(
      'shoal_cache_evictions_total',
      'Entries evicted to stay within the memory or entry limit.',
      stats.evictions,
    ),
    counter(
      'shoal_cache_expirations_total',
      'Entries removed because their TTL passed.',
      stats.expirations,
    ),
    gauge('shoal_cache_keys', 'Entries held in this node store.', stats.keys),
    gauge('shoal_cache_bytes', 'Bytes held in this node store.', stats.bytes),
    counter(
      'shoal_forwarded_ops_total',
      'Operations this node sent on to a primary.',
      stats.forwarded,
    ),
    counter(
      'shoal_retried_ops_total',
      'Retries after a refusal that proved non-application.',
      stats.retries,
    ),
    gauge(
      'shoal_view_epoch',
      'Epoch of the view this node applies (-1 before the first).',
      stats.viewEpoch,
    ),
    gauge('shoal_view_members', 'Members in the view this node applies.', stats.members),
    {
      name: 'shoal_partitions',
      type: 'gauge',
      help: 'Partitions this node owns, by role and state.',
      samples: [
        { labels: { role: 'primary', state: 'active' }, value: stats.partitions.primaryActive },
        { labels: { role: 'primary', state: 'syncing' }, value: stats.partitions.primarySyncing },
        { labels: { role: 'backup', state: 'active' }, value: stats.partitions.backupActive },
        { labels: { role: 'backup', state: 'syncing' }, value: stats.partitions.backupSyncing },
      ],
    },
    counter(
      'shoal_replication_batches_sent_total',
      'Batches sent to backups.',
      stats.replication.batchesSent,
    ),
    counter(
      'shoal_replication_batches_failed_total',
      'Batches a backup refused or did not answer.',
      stats.replication.batchesFailed,
    ),
    gauge(
      'shoal_replication_streams',
      'Backups in the streams of this node primary partitions.',
      stats.replication.streams,
    ),
    gauge(
      'shoal_replication_pending_writes',
      'Writes queued or in flight.',
      stats.replication.pendingWrites,
    ),
    gauge(
      'shoal_replication_batches_in_flight',
      'Replication batches of this node primary partitions not yet answered by every backup.',
      stats.replication.batchesInFlight,
    ),
    gauge(
      'shoal_replication_oldest_batch_age_seconds',
      'Age of the oldest replication batch not yet answered by every backup (0 when none).',
      stats.replication.oldestBatchAgeMs / 1000,
    ),
    gauge(
      'shoal_settings_max_memory_bytes',
      'Byte bound of this node store now (cluster config, else the node option).',
      stats.settings.maxMemoryBytes,
    ),
    gauge(
      'shoal_settings_max_value_bytes',
      'Largest encoded value a write may carry now.',
      stats.settings.maxValueBytes,
    ),
    gauge(
      'shoal_settings_default_ttl_seconds',
      'TTL given to a set without one (0: none).',
      stats.settings.defaultTtlMs / 1000,
    ),
    gauge(
      'shoal_settings_ttl_jitter_ratio',
      'Fraction by which a set TTL may be shortened at random.',
      stats.settings.ttlJitter,
    ),
    {
      name: 'shoal_settings_write_concern',
      type: 'gauge',
      help: 'Write concern new writes use (1 for the current one).',
      samples: WRITE_CONCERNS.map((concern) => ({
        labels: { concern },
        value: concern === stats.settings.writeConcern ? 1 : 0,
      })),
    },
    gauge(
      'shoal_handoff_partitions_pending',
      'Partitions this node still has to pull.',
      stats.handoff.partitionsPending,
    ),
    counter(
      'shoal_handoff_partitions_synced_total',
      'Partitions pulled to completion.',
      stats.handoff.partitionsSynced,
    ),
    counter(
      'shoal_handoff_partitions_without_source_total',
      'Gained primary partitions no member held a complete copy of.',
      stats.handoff.partitionsWithoutSource,
    ),
    gauge(
      'shoal_handoff_sessions_active',
      'Handoff sessions pulling now.',
      stats.handoff.sessionsActive,
    ),
    counter(
      'shoal_handoff_sessions_failed_total',
      'Handoff sessions that failed and were retried.',
      stats.handoff.sessionsFailed,
    ),
    counter(
      'shoal_handoff_received_keys_total',
      'Keys received by handoff.',
      stats.handoff.keysReceived,
    ),
    counter(
      'shoal_handoff_received_bytes_total',
      'Bytes received by handoff.',
      stats.handoff.bytesReceived,
    ),
    gauge(
      'shoal_handoff_source_sessions',
      'Handoff sessions this node serves as the source.',
      stats.handoff.sourceSessions,
    ),
    counter('shoal_handoff_sent_keys_total', 'Keys sent by handoff.', stats.handoff.keysSent),
    counter('shoal_handoff_sent_bytes_total', 'Bytes sent by handoff.', stats.handoff.bytesSent),
    gauge('shoal_loads_pending', 'getOrLoad loads in progress at this node.', stats.loads.pending),
    counter(
      'shoal_load_leases_total',
      'getOrLoad leases granted here (each is one loader run somewhere).',
      stats.loads.leases,
    ),
    counter(
      'shoal_load_waits_total',
      'getOrLoad callers that waited on another caller load.',
      stats.loads.waits,
    ),
    counter(
      'shoal_loads_completed_total',
      'Loads that ended with a result.',
      stats.loads.completed,
    ),
    counter('shoal_loads_failed_total', 'Loads whose loader threw.', stats.loads.failed),
    counter(
      'shoal_loads_timed_out_total',
      'Loads that timed out or whose lease holder went away.',
      stats.loads.timedOut,
    ),
    counter(
      'shoal_load_write_failures_total',
      'Loaded results the write path could not store.',
      stats.loads.writeFailures,
    ),
    {
      name: 'shoal_coord_role',
      type: 'gauge',
      help: 'Coordinator role of this node (1 for the current role).',
      samples: COORD_ROLES.map((role) => ({
        labels: { role },
        value: role === status.role ? 1 : 0,
      })),
    },
    {
      name: 'shoal_coord_leader_info',
      type: 'gauge',
      help: 'Constant 1, labelled with the leader this node knows (empty if none).',
      samples: [{ labels: { leader: status.leader ?? '' }, value: 1 }],
    },
    gauge(
      'shoal_coord_has_quorum',
      '1 if the coordinator has a quorum, else 0.',
      status.hasQuorum ? 1 : 0,
    ),
    gauge('shoal_coord_epoch', 'Coordinator epoch.', status.epoch),
    gauge('shoal_coord_accepted_epoch', 'Coordinator accepted epoch.', status.acceptedEpoch),
    gauge('shoal_coord_current_epoch', 'Coordinator current epoch.', status.currentEpoch),
    gauge('shoal_coord_zxid', 'Last zxid in this node coordinator log.', status.zxid),
    gauge('shoal_coord_committed_zxid', 'Last committed zxid.', status.lastCommittedZxid),
    gauge('shoal_coord_voters', 'Voters of the coordinator ensemble.', status.voters.length),
    gauge(
      'shoal_coord_durable',
      '1 if the coordinator persists its log, else 0.',
      status.durable ? 1 : 0,
    ),
  ];
  return metrics.map(renderMetric).join('');
}

function counter(name: string, help: string, value: number): Metric {
  return { name, type: 'counter', help, samples: [{ value }] };
}

function gauge(
  name: string,
  help: string,
  value: number,
  labels?: Readonly<Record<string, string>>,
): Metric {
  return {
    name,
    type: 'gauge',
    help,
    samples: [labels === undefined ? { value } : { labels, value }],
  };
}

function renderMetric(metric: Metric): string {
  let text = `# HELP ${metric.name} ${escapeHelp(metric.help)}\n# TYPE ${metric.name} ${metric.type}\n`;
  for (const sample of metric.samples) {
    text += `${metric.name}${renderLabels(sample.labels)} ${renderValue(sample.value)}\n`;
  }
  return text;
}

function renderLabels(labels: Readonly<Record<string, string>> | undefined): string {
  if (labels === undefined) return '';
  const pairs = Object.entries(labels).map(
    ([name, value]) => `${name}="${escapeLabelValue(value)}"`,
  );
  return `{${pairs.join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}

/** The format's escapes for label values: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The format's escapes for HELP text: backslash and line feed. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
