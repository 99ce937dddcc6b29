#!/usr/bin/env node
// The `shoal` command. The CLI itself is TypeScript compiled to dist/; run
// `npm run build` first when working from a checkout (npm start does it for you).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`shoal: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
