// The server under test of `npm run bench resp`: one shoal node (RF 1) with its RESP
// port in proxy mode, run from the compiled dist/ as a deployment would run it (no
// TypeScript loader in the hot path). Prints `RESP_BENCH_PORT <port>`; runs until killed.
import { Shoal } from '../../dist/index.js';

const secret = process.argv[2];
if (secret === undefined) throw new Error('usage: resp-bench-node.mjs <secret>');
const node = await Shoal.start({
  id: 'bench',
  secret,
  host: '127.0.0.1',
  port: 0,
  replicationFactor: 1,
  respPort: 0,
  respProxy: true,
});
process.stdout.write(`RESP_BENCH_PORT ${node.respPort}\n`);
