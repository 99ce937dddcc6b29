#!/usr/bin/env node
// The `shoal` command. The CLI itself is TypeScript compiled to dist/; run
// `npm run build` first when working from a checkout (npm start does it for you).
import { main } from '../dist/cli/main.js';

// Exits explicitly once the command is done: a command that gave up early (a refused
// secret, a timeout) may leave a reconnect timer behind, and that must not keep the
// process alive. Both streams are drained first so no output is cut off.
function exitWhenFlushed(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(exitWhenFlushed, (error) => {
  process.stderr.write(`shoal: ${error instanceof Error ? error.message : String(error)}\n`);
  exitWhenFlushed(1);
});
