import { readFile } from 'node:fs/promises';
import type { WriteConcern } from '../api/index.js';
import { MAX_REPLICATION_FACTOR } from '../ring/index.js';
import { parseByteSize } from '../util/byte-size.js';
import { type FlagSpec, listFlag, type ParsedFlags, parseInteger } from './flags.js';
import { type LogLevel, parseLogLevel } from './json-logger.js';
import {
  checkNodeId,
  type KnownNode,
  type NodeAddress,
  parseKnownNode,
  parseNodeAddress,
} from './node-address.js';
import { CliUsageError } from './usage-error.js';

/** Defaults of `shoal start` with no flags: a single-node cluster on 127.0.0.1:7400. */
export const START_DEFAULTS = {
  id: 'node-1',
  host: '127.0.0.1',
  port: 7400,
  logLevel: 'info' as LogLevel,
  /** Long enough for a person to start the other voters by hand. */
  joinTimeoutMs: 60_000,
} as const;

/** Smallest `--max-memory`: the store must hold at least one largest value (1 MiB). */
const MIN_MAX_MEMORY_BYTES = 1024 * 1024;
/** Longest `--join-timeout` accepted (one hour). */
const MAX_JOIN_TIMEOUT_MS = 3_600_000;
/** Largest config file read; it holds a dozen settings. */
const MAX_CONFIG_FILE_BYTES = 64 * 1024;
/** Most voters or join addresses accepted (ensembles are 1, 3 or 5 voters). */
const MAX_VOTERS = 15;
const WRITE_CONCERNS: readonly WriteConcern[] = ['one', 'quorum', 'all'];

/**
 * Each setting of `shoal start`: its flag, its key in a `--config` file (camelCase,
 * as in `Shoal.start` options), and whether it takes a list.
 */
const SETTINGS = [
  { flag: 'id', key: 'id', list: false },
  { flag: 'host', key: 'host', list: false },
  { flag: 'port', key: 'port', list: false },
  { flag: 'voters', key: 'voters', list: true },
  { flag: 'join', key: 'join', list: true },
  { flag: 'advertise', key: 'advertise', list: false },
  { flag: 'secret-file', key: 'secretFile', list: false },
  { flag: 'client-secret-file', key: 'clientSecretFile', list: false },
  { flag: 'replication-factor', key: 'replicationFactor', list: false },
  { flag: 'max-memory', key: 'maxMemory', list: false },
  { flag: 'data-dir', key: 'dataDir', list: false },
  { flag: 'log-level', key: 'logLevel', list: false },
  { flag: 'write-concern', key: 'writeConcern', list: false },
  { flag: 'join-timeout', key: 'joinTimeoutMs', list: false },
  { flag: 'resp-port', key: 'respPort', list: false },
  { flag: 'resp-host', key: 'respHost', list: false },
  { flag: 'resp-password', key: 'respPassword', list: false },
] as const;

/** The on/off settings of `shoal start`: a flag without value, `true`/`false` in a file. */
const SWITCHES = [
  { flag: 'resp-proxy', key: 'respProxy' },
  { flag: 'resp-allow-flush', key: 'respAllowFlush' },
] as const;

type SettingFlag = (typeof SETTINGS)[number]['flag'] | (typeof SWITCHES)[number]['flag'];

/** The flags of `shoal start`. */
export const START_FLAGS = {
  ...Object.fromEntries(SETTINGS.map((s) => [s.flag, s.list ? 'list' : 'string'] as const)),
  ...Object.fromEntries(SWITCHES.map((s) => [s.flag, 'boolean'] as const)),
  secret: 'string',
  config: 'string',
  help: 'boolean',
} as const satisfies FlagSpec;

/** Everything `shoal start` was told, checked, with defaults filled in. */
export interface StartSettings {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** `--voters`: the ensemble, as this node dials it. */
  readonly voters: readonly KnownNode[] | undefined;
  /** `--join`: voters of an existing cluster, ids possibly still to be asked for. */
  readonly join: readonly NodeAddress[] | undefined;
  readonly advertisedAddress: string | undefined;
  readonly secretFlag: string | undefined;
  readonly secretFile: string | undefined;
  /** `--client-secret-file`: the credential clients may hold instead of the secret. */
  readonly clientSecretFile: string | undefined;
  readonly replicationFactor: number | undefined;
  readonly maxMemoryBytes: number | undefined;
  readonly dataDir: string | undefined;
  readonly logLevel: LogLevel;
  readonly writeConcern: WriteConcern | undefined;
  readonly joinTimeoutMs: number;
  /** The RESP (Redis protocol) server; `undefined` without `--resp-port`. */
  readonly resp: RespSettings | undefined;
}

/** `--resp-*`: the node's Redis-protocol server. */
export interface RespSettings {
  readonly port: number;
  readonly host: string | undefined;
  readonly password: string | undefined;
  readonly proxy: boolean;
  readonly allowFlush: boolean;
}

/** One raw setting and where it came from (for error messages). */
interface RawSetting {
  readonly value: string | readonly string[];
  readonly label: string;
}

/**
 * Reads the settings of `shoal start`: the `--config` file first (unknown keys are
 * errors), then the flags, which override it.
 */
export async function resolveStartSettings(args: ParsedFlags): Promise<StartSettings> {
  if (args.positionals.length > 0) {
    throw new CliUsageError(`start takes no arguments, got "${args.positionals[0]}"`);
  }
  const raw = new Map<SettingFlag, RawSetting>();
  const configPath = args.values.config;
  if (typeof configPath === 'string') {
    for (const [flag, setting] of await readConfigFile(configPath)) raw.set(flag, setting);
  }
  for (const { flag, list } of SETTINGS) {
    const value = args.values[flag];
    if (value === undefined) continue;
    raw.set(flag, {
      value: list ? listFlag(args.values, flag) : String(value),
      label: `--${flag}`,
    });
  }
  for (const { flag } of SWITCHES) {
    if (args.values[flag] === true) raw.set(flag, { value: 'true', label: `--${flag}` });
  }
  const secretFlag = args.values.secret;
  return settingsFrom(raw, typeof secretFlag === 'string' ? secretFlag : undefined);
}

function settingsFrom(
  raw: ReadonlyMap<SettingFlag, RawSetting>,
  secretFlag: string | undefined,
): StartSettings {
  const text = (flag: SettingFlag): { value: string; label: string } | undefined => {
    const setting = raw.get(flag);
    if (setting === undefined) return undefined;
    if (typeof setting.value !== 'string') {
      throw new CliUsageError(`${setting.label} takes one value`);
    }
    return { value: setting.value, label: setting.label };
  };
  const list = (flag: SettingFlag): { value: readonly string[]; label: string } | undefined => {
    const setting = raw.get(flag);
    if (setting === undefined) return undefined;
    const value = typeof setting.value === 'string' ? [setting.value] : setting.value;
    if (value.length === 0) throw new CliUsageError(`${setting.label} needs at least one entry`);
    if (value.length > MAX_VOTERS) {
      throw new CliUsageError(
        `${setting.label}: at most ${MAX_VOTERS} entries, got ${value.length}`,
      );
    }
    return { value, label: setting.label };
  };
  const integer = (flag: SettingFlag, min: number, max: number): number | undefined => {
    const setting = text(flag);
    return setting === undefined ? undefined : parseInteger(setting.value, setting.label, min, max);
  };

  const idSetting = text('id');
  const id = idSetting?.value ?? START_DEFAULTS.id;
  if (idSetting !== undefined) checkNodeId(id, idSetting.label);

  const votersSetting = list('voters');
  const voters = votersSetting?.value.map((entry) => parseKnownNode(entry, votersSetting.label));
  if (voters !== undefined) checkDistinct(voters, votersSetting?.label ?? '--voters');
  const joinSetting = list('join');
  const join = joinSetting?.value.map((entry) => parseNodeAddress(entry, joinSetting.label));
  if (voters !== undefined && join !== undefined) {
    throw new CliUsageError(
      'give --voters (this node is one of the ensemble) or --join (it joins an existing one), not both',
    );
  }
  if (join?.some((node) => node.id === id)) {
    throw new CliUsageError(
      `--join lists this node's own id "${id}"; a voter is started with --voters instead`,
    );
  }

  const advertise = text('advertise');
  const maxMemory = text('max-memory');
  const logLevel = text('log-level');
  const writeConcern = text('write-concern');
  const dataDir = text('data-dir');
  const secretFile = text('secret-file');
  const clientSecretFile = text('client-secret-file');
  return {
    id,
    host: text('host')?.value ?? START_DEFAULTS.host,
    port: integer('port', 0, 65_535) ?? START_DEFAULTS.port,
    voters,
    join,
    advertisedAddress:
      advertise === undefined ? undefined : parseNodeAddress(advertise.value, advertise.label).url,
    secretFlag,
    secretFile: secretFile?.value,
    clientSecretFile: clientSecretFile?.value,
    replicationFactor: integer('replication-factor', 1, MAX_REPLICATION_FACTOR),
    maxMemoryBytes:
      maxMemory === undefined ? undefined : byteSize(maxMemory.value, maxMemory.label),
    dataDir: dataDir?.value,
    logLevel: logLevel === undefined ? START_DEFAULTS.logLevel : parseLogLevelAt(logLevel),
    writeConcern: writeConcern === undefined ? undefined : writeConcernAt(writeConcern),
    joinTimeoutMs: integer('join-timeout', 1, MAX_JOIN_TIMEOUT_MS) ?? START_DEFAULTS.joinTimeoutMs,
    resp: respSettings(text, integer),
  };
}

function respSettings(
  text: (flag: SettingFlag) => { value: string; label: string } | undefined,
  integer: (flag: SettingFlag, min: number, max: number) => number | undefined,
): RespSettings | undefined {
  const port = integer('resp-port', 0, 65_535);
  const host = text('resp-host');
  const password = text('resp-password');
  const proxy = text('resp-proxy')?.value === 'true';
  const allowFlush = text('resp-allow-flush')?.value === 'true';
  if (port === undefined) {
    const orphan = [host, password].find((setting) => setting !== undefined)?.label;
    const orphanSwitch = proxy ? '--resp-proxy' : allowFlush ? '--resp-allow-flush' : undefined;
    const without = orphan ?? orphanSwitch;
    if (without !== undefined) {
      throw new CliUsageError(`${without} needs --resp-port (the RESP server is off without it)`);
    }
    return undefined;
  }
  if (host !== undefined && host.value === '') throw new CliUsageError(`${host.label} is empty`);
  if (password !== undefined && password.value === '') {
    throw new CliUsageError(`${password.label} is empty`);
  }
  return { port, host: host?.value, password: password?.value, proxy, allowFlush };
}

function checkDistinct(nodes: readonly KnownNode[], label: string): void {
  const seen = new Set<string>();
  for (const node of nodes) {
    if (seen.has(node.id)) throw new CliUsageError(`${label} names "${node.id}" twice`);
    seen.add(node.id);
  }
}

function byteSize(text: string, label: string): number {
  let bytes: number;
  try {
    bytes = parseByteSize(text, label);
  } catch (error) {
    throw new CliUsageError(error instanceof Error ? error.message : String(error));
  }
  if (bytes < MIN_MAX_MEMORY_BYTES) {
    throw new CliUsageError(`${label} must be at least 1mb, got "${text}"`);
  }
  return bytes;
}

function parseLogLevelAt(setting: { value: string; label: string }): LogLevel {
  try {
    return parseLogLevel(setting.value);
  } catch (error) {
    if (setting.label === '--log-level') throw error;
    throw new CliUsageError(`${setting.label} must be debug, info, warn or error`);
  }
}

function writeConcernAt(setting: { value: string; label: string }): WriteConcern {
  const concern = WRITE_CONCERNS.find((candidate) => candidate === setting.value);
  if (concern === undefined) {
    throw new CliUsageError(`${setting.label} must be one, quorum or all, got "${setting.value}"`);
  }
  return concern;
}

/**
 * Reads a `--config` JSON file: an object whose keys are the camelCase names of the
 * flags. An unknown key is an error (a typo must not silently fall back to a
 * default), and the secret itself is refused: config files get committed and
 * shared, so it belongs in `secretFile` or `SHOAL_SECRET`.
 */
async function readConfigFile(path: string): Promise<Map<SettingFlag, RawSetting>> {
  let text: string;
  try {
    const bytes = await readFile(path);
    if (bytes.length > MAX_CONFIG_FILE_BYTES) {
      throw new CliUsageError(`config file ${path} is larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
    }
    text = bytes.toString('utf8');
  } catch (error) {
    if (error instanceof CliUsageError) throw error;
    const code = (error as { code?: unknown }).code;
    throw new CliUsageError(
      `cannot read config file ${path}${typeof code === 'string' ? ` (${code})` : ''}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliUsageError(
      `config file ${path} is not valid JSON (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliUsageError(`config file ${path} must hold a JSON object`);
  }
  const settings = new Map<SettingFlag, RawSetting>();
  for (const [key, value] of Object.entries(parsed)) {
    const label = `"${key}" in ${path}`;
    if (key === 'secret') {
      throw new CliUsageError(
        `config file ${path} holds "secret"; put it in a file named by "secretFile", or in SHOAL_SECRET`,
      );
    }
    const toggle = SWITCHES.find((candidate) => candidate.key === key);
    if (toggle !== undefined) {
      if (typeof value !== 'boolean') throw new CliUsageError(`${label} must be true or false`);
      settings.set(toggle.flag, { value: String(value), label });
      continue;
    }
    const setting = SETTINGS.find((candidate) => candidate.key === key);
    if (setting === undefined) {
      const known = [...SETTINGS, ...SWITCHES].map((candidate) => candidate.key).join(', ');
      throw new CliUsageError(`config file ${path}: unknown key "${key}" (known: ${known})`);
    }
    settings.set(setting.flag, { value: fileValue(value, setting.list, label), label });
  }
  return settings;
}

function fileValue(value: unknown, list: boolean, label: string): string | readonly string[] {
  // A list may be written as one comma-separated string, as on the command line.
  if (typeof value === 'string') return list ? listFlag({ value }, 'value') : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (list && Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value as string[];
  }
  throw new CliUsageError(
    `${label} must be ${list ? 'a string or a list of strings' : 'a string or a number'}`,
  );
}
