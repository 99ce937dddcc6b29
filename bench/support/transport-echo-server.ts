/**
 * The server half of bench/transport.bench.ts, run as a separate process:
 *   node --import tsx bench/support/transport-echo-server.ts <shoal|raw> [immediate|microtask]
 *
 * - `shoal`: a WsTransport node whose `echo` channel returns the request body.
 * - `raw`: a bare `ws` server that decodes each frame with msgpackr and answers it
 *   with one frame `{ i, b }`: the unbatched baseline.
 *
 * Prints one JSON line `{ "port": n }` once listening; exits when stdin closes (the
 * parent died or finished) or on SIGTERM.
 */
import { pack, unpack } from 'msgpackr';
import { WebSocketServer } from 'ws';
import { WsTransport } from '../../src/transport/ws-transport.js';

/** Must match bench/transport.bench.ts. */
const BENCH_SECRET = 'bench-secret';

interface RawRequest {
  i: number;
  b: unknown;
}

async function startShoal(batchFlush: 'immediate' | 'microtask'): Promise<{
  port: number;
  stop: () => Promise<void>;
}> {
  const transport = await WsTransport.listen({
    id: 'bench-server',
    secret: BENCH_SECRET,
    batchFlush,
  });
  transport.handle('echo', { onRequest: (_from, message) => message });
  return { port: transport.port, stop: () => transport.close() };
}

async function startRaw(): Promise<{ port: number; stop: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (ws) => {
    ws.on('message', (data: Buffer) => {
      const request = unpack(data) as RawRequest;
      ws.send(pack({ i: request.i, b: request.b }));
    });
  });
  const address = wss.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on TCP');
  return {
    port: address.port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => resolve());
      }),
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const flush = process.argv[3] === 'microtask' ? 'microtask' : 'immediate';
  if (mode !== 'shoal' && mode !== 'raw') throw new Error(`unknown mode ${mode}`);
  const server = mode === 'shoal' ? await startShoal(flush) : await startRaw();
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
