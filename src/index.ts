/**
 * shoal's public entry point. Everything a user imports comes from here: member
 * nodes (`Shoal.start`), the thin client (`ShoalClient.connect`), their options and
 * results, and the typed errors (each a `ShoalError` with a stable `code`).
 */
export * from './api/index.js';
export { InvalidArgumentError, ShoalError } from './util/errors.js';
