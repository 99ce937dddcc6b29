/**
 * The `shoal` command line. Returns the process exit code instead of exiting, so
 * tests can call it in-process.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  if (command === undefined || command === 'help' || command === '--help') {
    console.log('usage: shoal <command> [options]');
    return 0;
  }
  console.error(`shoal: unknown command "${command}" (try "shoal help")`);
  return 2;
}
