/**
 * A shoal member in its own process for bench/load.bench.ts:
 *   node --import tsx bench/support/load-node-process.ts '<ShoalOptions as JSON>'
 * Prints `READY <url>` once in the committed view. Each line `mem` on stdin is
 * answered with one JSON line of `process.memoryUsage()` (after a GC when exposed),
 * so the bench can report heap as well as RSS. Exits when stdin closes or on SIGTERM.
 */
import { createInterface } from 'node:readline';
import { Shoal } from '../../src/api/shoal.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof Shoal.start>[0];
const node = await Shoal.start(options);
process.stdout.write(`READY ${node.url}\n`);

const stop = async (): Promise<void> => {
  await node.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'mem') return;
  globalThis.gc?.();
  const usage = process.memoryUsage();
  process.stdout.write(
    `MEM ${JSON.stringify({ rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers })}\n`,
  );
});
lines.on('close', () => void stop());
