import { describe, expect, it } from 'vitest';
import { JsonLogger, parseLogLevel, REDACTED } from '../../src/cli/json-logger.js';
import { CliUsageError } from '../../src/cli/usage-error.js';
import { ShoalError } from '../../src/util/errors.js';

const SECRET = 'hunter2-but-longer';
const NOW = new Date('2026-01-02T03:04:05.678Z');

function capture(level: string) {
  const lines: string[] = [];
  const logger = new JsonLogger(parseLogLevel(level), {
    secrets: [SECRET],
    sink: (line) => lines.push(line),
    now: () => NOW,
  });
  return { logger, lines, records: () => lines.map((line) => JSON.parse(line)) };
}

describe('JsonLogger', () => {
  it('writes one JSON object per line with time, level, message and fields', () => {
    const { logger, lines, records } = capture('debug');
    logger.info('node started', { id: 'n1', port: 7400, voter: true });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(records()).toEqual([
      {
        time: NOW.toISOString(),
        level: 'info',
        msg: 'node started',
        id: 'n1',
        port: 7400,
        voter: true,
      },
    ]);
  });

  it('drops records below its level', () => {
    const { logger, records } = capture('warn');
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(records().map((record) => record.level)).toEqual(['warn', 'error']);
  });

  it('never writes the secret: not in messages, field values, nested objects, or errors', () => {
    const { logger, lines } = capture('debug');
    logger.warn(`handshake with ${SECRET} failed`, {
      note: `the secret was ${SECRET}`,
      nested: { deeper: [`x${SECRET}y`] },
      error: new ShoalError('ERR_X', `bad ${SECRET}`),
    });
    const text = lines.join('\n');
    expect(text).not.toContain(SECRET);
    const record = JSON.parse(lines[0]!);
    expect(record.msg).toBe(`handshake with ${REDACTED} failed`);
    expect(record.nested.deeper[0]).toBe(`x${REDACTED}y`);
    expect(record.error).toEqual({ name: 'ShoalError', code: 'ERR_X', message: `bad ${REDACTED}` });
  });

  it('redacts fields with secret-like names whatever they hold', () => {
    const { logger, records } = capture('debug');
    logger.info('config', {
      secret: 'other',
      clusterSecret: 1,
      apiToken: 'x',
      options: { password: 'p' },
    });
    const [record] = records();
    expect(record.secret).toBe(REDACTED);
    expect(record.clusterSecret).toBe(REDACTED);
    expect(record.apiToken).toBe(REDACTED);
    expect(record.options.password).toBe(REDACTED);
  });

  it('keeps its own keys, and turns odd values into JSON-safe ones', () => {
    const { logger, records } = capture('debug');
    logger.info('m', {
      level: 'spoofed',
      big: 10n,
      bytes: new Uint8Array(3),
      when: NOW,
      infinite: Number.POSITIVE_INFINITY,
      long: 'x'.repeat(5_000),
    });
    const [record] = records();
    expect(record.level).toBe('info');
    expect(record.big).toBe('10');
    expect(record.bytes).toBe('[3 bytes]');
    expect(record.when).toBe(NOW.toISOString());
    expect(record.infinite).toBe('Infinity');
    expect(record.long.length).toBeLessThan(2_100);
  });

  it('rejects an unknown level as a usage error', () => {
    expect(() => parseLogLevel('verbose')).toThrow(CliUsageError);
  });
});
