/**
 * A strict reader of the Prometheus text exposition format 0.0.4, for the subset a
 * node emits (counters and gauges). It throws on anything the format forbids or the
 * naming conventions reject, so a test that parses `/metrics` checks both.
 */

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Units the conventions reject in favour of base units (seconds, bytes). */
const NON_BASE_UNITS =
  /_(milliseconds|ms|microseconds|nanoseconds|minutes|hours|kilobytes|megabytes|kb|mb)(_total)?$/;

/** One sample line. */
export interface PrometheusSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition: each family's type, and every sample in order. */
export interface PrometheusText {
  readonly types: ReadonlyMap<string, 'counter' | 'gauge'>;
  readonly samples: readonly PrometheusSample[];
}

/**
 * Parses `text`, checking: every line is `# HELP`, `# TYPE` or a sample; HELP and
 * TYPE appear at most once per family and before its samples; a family's samples are
 * contiguous with unique label sets; counters end in `_total` and gauges do not;
 * names use base units; values are floats (or NaN, +Inf, -Inf); counters are >= 0;
 * the text ends with a line feed.
 */
export function parsePrometheusText(text: string): PrometheusText {
  const types = new Map<string, 'counter' | 'gauge'>();
  const helps = new Set<string>();
  const samples: PrometheusSample[] = [];
  const seenSeries = new Set<string>();
  const closedFamilies = new Set<string>();
  let currentFamily: string | undefined;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a line feed');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const [, name] = /^# HELP (\S+) .+$/.exec(line) ?? [];
      if (name === undefined || !NAME.test(name)) throw new Error(`bad HELP line: ${line}`);
      if (helps.has(name)) throw new Error(`second HELP for ${name}`);
      helps.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, name, type] = /^# TYPE (\S+) (counter|gauge)$/.exec(line) ?? [];
      if (name === undefined || (type !== 'counter' && type !== 'gauge') || !NAME.test(name)) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      if (types.has(name)) throw new Error(`second TYPE for ${name}`);
      if (type === 'counter' && !name.endsWith('_total'))
        throw new Error(`counter ${name} lacks _total`);
      if (type === 'gauge' && name.endsWith('_total'))
        throw new Error(`gauge ${name} ends in _total`);
      if (NON_BASE_UNITS.test(name)) throw new Error(`${name} is not in base units`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') throw new Error(`unexpected line: ${line}`);
    const match = /^([^\s{]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const [, name = '', labelText, valueText = ''] = match;
    if (!NAME.test(name)) throw new Error(`bad metric name: ${name}`);
    const type = types.get(name);
    if (type === undefined) throw new Error(`sample of ${name} before its TYPE`);
    if (name !== currentFamily) {
      if (closedFamilies.has(name)) throw new Error(`samples of ${name} are not contiguous`);
      if (currentFamily !== undefined) closedFamilies.add(currentFamily);
      currentFamily = name;
    }
    const value = parseValue(valueText, line);
    if (type === 'counter' && !(value >= 0)) throw new Error(`counter below 0: ${line}`);
    const labels = parseLabels(labelText ?? '');
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seenSeries.has(series)) throw new Error(`duplicate series: ${line}`);
    seenSeries.add(series);
    samples.push({ name, labels, value });
  }
  return { types, samples };
}

/** The one sample named `name` (with `labels`, when given); throws unless exactly one. */
export function onlySample(
  parsed: PrometheusText,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PrometheusSample {
  const found = parsed.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([label, value]) => sample.labels[label] === value),
  );
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}`);
  return found[0]!;
}

function parseValue(text: string, line: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value: ${line}`);
  return Number(text);
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([^=,]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  while (pair.lastIndex < text.length) {
    const match = pair.exec(text);
    if (match === null) throw new Error(`bad labels: {${text}}`);
    const [, name = '', raw = ''] = match;
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`bad label name: ${name}`);
    if (name in labels) throw new Error(`label ${name} twice`);
    labels[name] = raw.replace(/\\(.)/g, (_, escaped: string) =>
      escaped === 'n' ? '\n' : escaped,
    );
  }
  return labels;
}
