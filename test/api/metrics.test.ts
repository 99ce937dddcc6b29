import { afterEach, describe, expect, it } from 'vitest';
import { escapeLabelValue } from '../../src/api/metrics.js';
import { Shoal, type ShoalNode } from '../../src/api/shoal.js';
import {
  onlySample,
  type PrometheusText,
  parsePrometheusText,
} from '../support/prometheus-text.js';

const SECRET = 'metrics-test-secret-7f3a9c';
const started: ShoalNode[] = [];

afterEach(async () => {
  for (const node of started.splice(0).reverse()) await node.stop();
});

function sampleValue(parsed: PrometheusText, name: string): number {
  return onlySample(parsed, name).value;
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
    const first = parsePrometheusText(beforeText);
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
    const second = parsePrometheusText(afterText);
    const hits = sampleValue;
    expect(hits(second, 'shoal_cache_hits_total')).toBe(hits(first, 'shoal_cache_hits_total') + 1);
    expect(hits(second, 'shoal_cache_misses_total')).toBeGreaterThan(
      hits(first, 'shoal_cache_misses_total'),
    );
    expect(hits(second, 'shoal_cache_keys')).toBe(1);
    expect(hits(second, 'shoal_cache_sets_total')).toBe(1);
    expect(second.types.get('shoal_replication_oldest_batch_age_seconds')).toBe('gauge');
    expect(hits(second, 'shoal_replication_batches_in_flight')).toBe(0);
    expect(hits(second, 'shoal_settings_max_memory_bytes')).toBe(256 * 1024 * 1024);
    expect(onlySample(second, 'shoal_settings_write_concern', { concern: 'all' }).value).toBe(1);
    expect(onlySample(second, 'shoal_settings_write_concern', { concern: 'one' }).value).toBe(0);

    // A cluster setting changed live shows in the next scrape.
    await node.config.set('maxMemory', '1mb');
    await node.config.set('defaultTtlMs', 1500);
    const third = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    expect(hits(third, 'shoal_settings_max_memory_bytes')).toBe(1024 * 1024);
    expect(hits(third, 'shoal_settings_default_ttl_seconds')).toBe(1.5);

    // A getOrLoad miss runs one lease to completion; a second call is a plain hit.
    let loaderCalls = 0;
    const load = () => {
      loaderCalls++;
      return 'loaded';
    };
    expect(await node.getOrLoad('metrics:loaded', load)).toBe('loaded');
    expect(await node.getOrLoad('metrics:loaded', load)).toBe('loaded');
    expect(loaderCalls).toBe(1);
    const fourth = parsePrometheusText(await (await fetch(`${base}/metrics`)).text());
    expect(hits(fourth, 'shoal_load_leases_total')).toBe(1);
    expect(hits(fourth, 'shoal_loads_completed_total')).toBe(1);
    expect(hits(fourth, 'shoal_loads_pending')).toBe(0);
    expect(fourth.types.get('shoal_loads_failed_total')).toBe('counter');
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

  it('has a parser that refuses what the format or the naming conventions forbid', () => {
    const bad = [
      'x_total 1\n',
      '# TYPE x counter\nx 1\n',
      '# TYPE x_total gauge\nx_total 1\n',
      '# TYPE x_ms gauge\nx_ms 1\n',
      '# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n',
      '# TYPE x gauge\n# TYPE y gauge\nx 1\ny 1\nx{a="b"} 1\n',
      '# TYPE x gauge\nx one\n',
      '# TYPE x_total counter\nx_total -1\n',
      '# TYPE x gauge\nx{a=b} 1\n',
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), text).toThrow();
    expect(parsePrometheusText('# HELP x h\n# TYPE x gauge\nx{a="q\\""} 2.5e3\n').samples).toEqual([
      { name: 'x', labels: { a: 'q"' }, value: 2500 },
    ]);
  });
});
