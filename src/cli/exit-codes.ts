/**
 * The exit codes of `shoal`, stable so scripts can branch on them.
 *
 * - 0: done.
 * - 1: a runtime failure: no node reachable, secret refused, the cluster refused or
 *   timed out, a node failed to start.
 * - 2: the command line was wrong (unknown command or flag, missing or bad value,
 *   unreadable secret or config file).
 * - 3: the key does not exist (`get`, `ttl`), or `set --nx/--xx` did not write.
 *   Distinct from 1 so `if shoal get k >/dev/null` can tell "absent" from "broken".
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_MISSING = 3;
