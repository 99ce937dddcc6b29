import { afterEach, describe, expect, it } from 'vitest';
import { escapeLabelValue } from '../../src/api/metrics.js';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';

const SECRET = 'metrics-test-secret-7f3a9c';
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const started: ShoalNode[] = [];

afterEach(async () => {
  for (const node of started.splice(0).reverse()) await node.stop();
});

interface ParsedSample {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly value: number;
}

/**
 * A strict reader of the Prometheus text format 0.0.4 subset the node emits: throws on
 * any line that is not `# HELP`, `# TYPE` or a sample of a metric with a TYPE.
 */
function parsePrometheus(text: string): { types: Map<string, string>; samples: ParsedSample[] } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: ParsedSample[] = [];
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
      if (name === undefined || type === undefined || !NAME.test(name)) {
        throw new Error(`bad TYPE line: ${line}`);
      }
      if (types.has(name)) throw new Error(`second TYPE for ${name}`);
      types.set(name, type);
      continue;
    }
    const match = /^([^\s{]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    const [, name = '', labelText, valueText = ''] = match;
    if (!NAME.test(name)) throw new Error(`bad metric name: ${name}`);
    const type = types.get(name);
    if (type === undefined) throw new Error(`sample of ${name} before its TYPE`);
    if (type === 'counter' && !name.endsWith('_total'))
      throw new Error(`counter ${name} lacks _total`);
    const value = Number.parseFloat(valueText);
    if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`bad value: ${line}`);
    samples.push({ name, labels: parseLabels(labelText ?? ''), value });
  }
  return { types, samples };
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pair = /([^=,]+)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  while (pair.lastIndex < text.length) {
    const match = pair.exec(text);
    if (match === null) throw new Error(`bad labels: {${text}}`);
    const [, name = '', raw = ''] = match;
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name: ${name}`);
    labels[name] = raw.replace(/\\(.)/g, (_, escaped: string) =>
      escaped === 'n' ? '\n' : escaped,
    );
  }
  return labels;
}

function sampleValue(samples: readonly ParsedSample[], name: string): number {
  const found = samples.filter((sample) => sample.name === name);
  expect(found).toHaveLength(1);
  return found[0]?.value ?? Number.NaN;
}

describe('/healthz and /metrics on the node port', () => {
  it('answers healthy, and valid Prometheus text whose counters move with reads', async () => {
    const node = await Shoal.start({
      id: 'metrics-a',
      secret: SECRET,
      port: 0,
      replicationFactor: 1,
    });
    started.push(node);
    const base = node.url.replace(/^ws/, 'http');

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    const before = await fetch(`${base}/metrics`);
    expect(before.status).toBe(200);
    expect(before.headers.get('content-type')).toContain('version=0.0.4');
    const beforeText = await before.text();
    expect(beforeText).not.toContain(SECRET);
    const first = parsePrometheus(beforeText);
    expect(first.types.get('shoal_cache_hits_total')).toBe('counter');
    expect(first.types.get('shoal_cache_keys')).toBe('gauge');
    const leader = first.samples.find(
      (sample) => sample.name === 'shoal_coord_role' && sample.labels.role === 'leader',
    );
    expect(leader?.value).toBe(1);
    expect(first.samples.find((sample) => sample.name === 'shoal_node_info')?.labels.node_id).toBe(
      'metrics-a',
    );

    await node.set('k', 'v');
    expect(await node.get('k')).toBe('v');
    expect(await node.get('absent')).toBeUndefined();

    const afterText = await (await fetch(`${base}/metrics`)).text();
    expect(afterText).not.toContain(SECRET);
    const second = parsePrometheus(afterText);
    const hits = (parsed: typeof first, name: string) => sampleValue(parsed.samples, name);
    expect(hits(second, 'shoal_cache_hits_total')).toBe(hits(first, 'shoal_cache_hits_total') + 1);
    expect(hits(second, 'shoal_cache_misses_total')).toBeGreaterThan(
      hits(first, 'shoal_cache_misses_total'),
    );
    expect(hits(second, 'shoal_cache_keys')).toBe(1);
  });

  it('answers 503 with the reason when the node loses its quorum, and 404 elsewhere', async () => {
    const voter = await Shoal.start({ id: 'metrics-v', secret: SECRET, port: 0 });
    started.push(voter);
    const learner = await Shoal.start({
      id: 'metrics-l',
      secret: SECRET,
      port: 0,
      voters: [`metrics-v=${voter.url}`],
    });
    started.push(learner);
    const base = learner.url.replace(/^ws/, 'http');
    const notFound = await fetch(`${base}/nope`);
    expect(notFound.status).toBe(404);
    await notFound.text();
    await voter.stop();
    const deadline = Date.now() + 15_000;
    let last: { status: number; body: unknown } = { status: 0, body: undefined };
    while (last.status !== 503) {
      if (Date.now() > deadline) throw new Error(`healthz stayed ${last.status}`);
      const response = await fetch(`${base}/healthz`);
      last = { status: response.status, body: await response.json() };
      if (last.status !== 503) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(last.body).toEqual({ status: 'unavailable', reason: 'no quorum' });
  });

  it('escapes label values as the format requires', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});
