/**
 * shoal's public entry point. Everything a user imports comes from here.
 */
export { InvalidArgumentError, ShoalError } from './util/errors.js';
