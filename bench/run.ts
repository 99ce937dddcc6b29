/**
 * `npm run bench [name...]`: runs every benchmark in bench/ (each `<name>.bench.ts`),
 * or only the named ones, each in its own process so one cannot warm or pollute the
 * heap of the next. Each benchmark prints a table and, as its last line, one JSON
 * object.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(benchDir)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.slice(0, -'.bench.ts'.length))
  .sort();

const requested = process.argv.slice(2);
for (const name of requested) {
  if (!available.includes(name)) {
    console.error(`unknown benchmark "${name}"; available: ${available.join(', ')}`);
    process.exit(2);
  }
}

let failed = false;
for (const name of requested.length > 0 ? requested : available) {
  console.log(`\n== bench ${name} ==`);
  const result = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', join(benchDir, `${name}.bench.ts`)],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) {
    console.error(`bench ${name} exited with ${result.status ?? result.signal}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
