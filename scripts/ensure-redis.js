// Makes sure `redis-server` and `redis-cli` are on this machine before the tests that
// compare shoal with a real Redis run. They come from Debian's packages; on a Debian
// machine where we are root, install them. Elsewhere, say what to install and let the
// Redis-backed tests report it (they fail in CI rather than skip silently).
import { execFileSync, spawnSync } from 'node:child_process';

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

if (has('redis-server') && has('redis-cli')) process.exit(0);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && has('apt-get')) {
  console.log(
    'installing redis-server and redis-tools from Debian packages (needed by the Redis comparison tests)...',
  );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'redis-server', 'redis-tools'], {
    stdio: 'inherit',
    env,
  });
  // The Debian package starts a system Redis on 6379; shoal's tests start their own.
  spawnSync('sh', ['-c', 'service redis-server stop || true'], { stdio: 'ignore' });
} else {
  console.warn(
    'redis-server/redis-cli not found: install them (Debian: apt-get install redis-server redis-tools) for the Redis comparison tests.',
  );
}
