// Builds dist/ when it is missing or older than any file in src/, so `npm start` and
// `npm run bench` work on a fresh clone without a separate build step.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function newestMtimeMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}

function builtAtMs() {
  try {
    return statSync(join(root, 'dist', 'index.js')).mtimeMs;
  } catch {
    return -1;
  }
}

if (builtAtMs() < newestMtimeMs(join(root, 'src'))) {
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
