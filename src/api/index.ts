/** The public API of shoal: member nodes, the thin client, their options, results and errors. */
export type {
  GetOrLoadOptions,
  Loader,
  MsetOptions,
  ReadFrom,
  ReadOptions,
  SetOptions,
  ShoalCache,
  WriteConcern,
} from '../cluster/cache-api.js';
export { TTL_MISSING, TTL_NONE } from '../cluster/cache-api.js';
export type { CacheNodeStats } from '../cluster/cache-node.js';
export {
  type ClusterSettingKey,
  isClusterSetting,
  LIVE_SETTING_KEYS,
  type LiveSettingKey,
} from '../cluster/cluster-settings.js';
export {
  InvalidSettingError,
  NoQuorumError,
  NotAnIntegerError,
  NotPrimaryError,
  NoViewError,
  OutcomeUnknownError,
  OverloadedError,
  PartitionSyncingError,
  StoppedError,
  ValueNotEncodableError,
  ValueTooLargeError,
  WriteNotAppliedError,
} from '../cluster/errors.js';
export type { LiveSettingValues } from '../cluster/live-settings.js';
export type { LoadLimits, LoadStats } from '../cluster/load-coordinator.js';
export {
  LoadAbandonedError,
  LoaderError,
  LoadLeaseLostError,
  LoadTimeoutError,
} from '../cluster/load-errors.js';
export type { NodeCoordStatus, NodeStatusReport } from '../cluster/node-status.js';
export type { ShoalRespOptions } from './resp-endpoint.js';
export {
  NODE_HEALTH_PATH,
  NODE_METRICS_PATH,
  Shoal,
  ShoalNode,
  type ShoalOptions,
} from './shoal.js';
export {
  ShoalClient,
  type ShoalClientOptions,
  type ShoalClientRoutingOptions,
} from './shoal-client.js';
