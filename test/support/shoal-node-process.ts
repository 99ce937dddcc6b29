/**
 * A shoal member node in its own process, for multi-process tests and benchmarks.
 * Usage: node --import tsx test/support/shoal-node-process.ts '<ShoalOptions as JSON>'
 * Prints `READY <url>` once it is in the committed view; SIGTERM stops it cleanly.
 */
import { Shoal } from '../../src/api/shoal.js';

const options = JSON.parse(process.argv[2] ?? '{}') as Parameters<typeof Shoal.start>[0];
const node = await Shoal.start(options);
process.stdout.write(`READY ${node.url}\n`);
const stop = async (): Promise<void> => {
  await node.stop();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
