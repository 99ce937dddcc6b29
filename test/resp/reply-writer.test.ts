import { describe, expect, it } from 'vitest';
import { type ReplySink, ReplyWriter } from '../../src/resp/reply-writer.js';

/** A sink that records writes and cork depth, standing in for a socket. */
class RecordingSink implements ReplySink {
  readonly writes: Buffer[] = [];
  corks = 0;
  uncorks = 0;

  write(chunk: Buffer): boolean {
    this.writes.push(Buffer.from(chunk));
    return true;
  }

  cork(): void {
    this.corks++;
  }

  uncork(): void {
    this.uncorks++;
  }

  text(): string {
    return Buffer.concat(this.writes).toString('latin1');
  }
}

function encode(version: 2 | 3, write: (writer: ReplyWriter) => void): string {
  const writer = new ReplyWriter();
  writer.version = version;
  write(writer);
  const sink = new RecordingSink();
  writer.flush(sink);
  return sink.text();
}

describe('ReplyWriter', () => {
  it('encodes the RESP2 types', () => {
    expect(
      encode(2, (w) => {
        w.ok();
        w.simple('PONG');
        w.error('ERR bad\r\nthing');
        w.integer(-42);
        w.integer(2n ** 63n - 1n);
        w.bulk(Buffer.from('hi'));
        w.bulk(undefined);
        w.nullArray();
        w.arrayHeader(2);
        w.bulkString('é');
        w.integer(1);
      }),
    ).toBe(
      '+OK\r\n+PONG\r\n-ERR bad  thing\r\n:-42\r\n:9223372036854775807\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*2\r\n$2\r\nÃ©\r\n:1\r\n',
    );
  });

  it('degrades RESP3-only types to RESP2 the way Redis does', () => {
    const write = (w: ReplyWriter) => {
      w.mapHeader(1);
      w.bulkString('k');
      w.setHeader(1);
      w.boolean(true);
      w.double(1.5);
      w.double(Number.POSITIVE_INFINITY);
      w.verbatim('a\r\nb');
      w.nullBulk();
    };
    expect(encode(2, write)).toBe(
      '*2\r\n$1\r\nk\r\n*1\r\n:1\r\n$3\r\n1.5\r\n$3\r\ninf\r\n$4\r\na\r\nb\r\n$-1\r\n',
    );
    expect(encode(3, write)).toBe(
      '%1\r\n$1\r\nk\r\n~1\r\n#t\r\n,1.5\r\n,inf\r\n=8\r\ntxt:a\r\nb\r\n_\r\n',
    );
  });

  it('writes client bytes echoed in errors back unchanged (Latin-1)', () => {
    expect(encode(2, (w) => w.error("ERR unknown command '\xff'"))).toBe(
      "-ERR unknown command '\xff'\r\n",
    );
  });

  it('sends a large value as its own chunk, in order, inside one cork', () => {
    const big = Buffer.alloc(100 * 1024, 0x62);
    const writer = new ReplyWriter();
    writer.simple('before');
    writer.bulk(big);
    writer.simple('after');
    const sink = new RecordingSink();
    writer.flush(sink);
    expect(sink.corks).toBe(1);
    expect(sink.uncorks).toBe(1);
    expect(sink.writes).toHaveLength(3);
    expect(sink.writes[1]?.length).toBe(big.length);
    expect(sink.text()).toBe(
      `+before\r\n$${big.length}\r\n${big.toString('latin1')}\r\n+after\r\n`,
    );
  });

  it('never rewrites bytes already handed to the socket', () => {
    const writer = new ReplyWriter();
    const chunks: Buffer[] = [];
    const sink: ReplySink = {
      write: (chunk) => {
        chunks.push(chunk);
        return true;
      },
      cork: () => {},
      uncork: () => {},
    };
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const text = `reply-${i}-${'x'.repeat(i % 50)}`;
      writer.simple(text);
      expected.push(`+${text}\r\n`);
      if (i % 7 === 0) writer.flush(sink);
    }
    writer.flush(sink);
    expect(Buffer.concat(chunks).toString('latin1')).toBe(expected.join(''));
    expect(writer.bufferedBytes).toBe(0);
  });
});
