import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { NutConnectionError, NutProtocolError } from '../../src/nut/errors.js';
import { LineSplitter, type LineSplitterOptions, readLines } from '../../src/nut/lineReader.js';
import { sleep } from '../fixtures/proc.js';

describe('LineSplitter', () => {
  it('reassembles lines from single bytes and strips CR', () => {
    const splitter = new LineSplitter({ maxLineBytes: 100 });
    const bytes = Buffer.from('VAR u v "é"\r\nOK\n');
    const lines = [...bytes].flatMap((b) => splitter.push(Buffer.from([b])));
    expect(lines).toEqual(['VAR u v "é"', 'OK']);
    expect(splitter.bufferedBytes).toBe(0);
  });

  it('returns several lines from one chunk and keeps the tail', () => {
    const splitter = new LineSplitter({ maxLineBytes: 100 });
    expect(splitter.push(Buffer.from('a\nb\nc'))).toEqual(['a', 'b']);
    expect(splitter.bufferedBytes).toBe(1);
    expect(splitter.push(Buffer.from('d\n'))).toEqual(['cd']);
  });

  it('throws on an over-long line without buffering past the bound', () => {
    const splitter = new LineSplitter({ maxLineBytes: 10 });
    expect(splitter.push(Buffer.from('123456789'))).toEqual([]);
    expect(() => splitter.push(Buffer.from('abc'))).toThrow(NutProtocolError);
    expect(splitter.peakBufferedBytes).toBeLessThanOrEqual(10);
    expect(splitter.bufferedBytes).toBe(0);
  });

  it('accepts a line of exactly maxLineBytes', () => {
    const splitter = new LineSplitter({ maxLineBytes: 4 });
    expect(splitter.push(Buffer.from('abcd\n'))).toEqual(['abcd']);
  });

  it('in discard mode skips the over-long line and carries on', () => {
    const splitter = new LineSplitter({ maxLineBytes: 4, discardOverlong: true });
    expect(splitter.push(Buffer.from('ok\nway too long'))).toEqual(['ok']);
    expect(splitter.push(Buffer.from(' still\nnext\n'))).toEqual(['next']);
    expect(splitter.discardedLines).toBe(1);
    expect(splitter.peakBufferedBytes).toBeLessThanOrEqual(4);
  });
});

describe('readLines', () => {
  interface Read {
    lines: string[];
    overlong: Array<Error | undefined>;
    closed: NutConnectionError;
  }

  /**
   * Reads a loopback connection whose server writes `chunks` (one write each, 20 ms apart) and then ends it. The
   * owner lets go of the socket right after the line `letGoAfter`.
   */
  async function read(options: LineSplitterOptions, chunks: string[], letGoAfter?: string): Promise<Read> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.createConnection({
      host: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
    });
    const peer = await accepted;
    server.close();
    const result: Omit<Read, 'closed'> = { lines: [], overlong: [] };
    let owned = true;
    const closed = new Promise<NutConnectionError>((resolve) => {
      readLines(
        client,
        options,
        {
          owns: () => owned,
          line: (line) => {
            result.lines.push(line);
            if (line === letGoAfter) owned = false;
          },
          overlong: (error) => result.overlong.push(error),
          close: resolve,
        },
        {
          makeError: (code, message) => new NutConnectionError(code, message),
          lost: 'lost',
          closed: 'closed',
        },
      );
    });
    for (const chunk of chunks) {
      await new Promise<void>((resolve) => peer.write(chunk, () => resolve()));
      await sleep(20);
    }
    peer.end();
    const error = await closed;
    client.destroy();
    return { ...result, closed: error };
  }

  it('hands over lines in order until the owner lets go, then reports the close as the owner’s error', async () => {
    const { lines, overlong, closed } = await read({ maxLineBytes: 100 }, ['a\nb', '\nc\n', 'd\n'], 'b');
    expect(lines).toEqual(['a', 'b']);
    expect(overlong).toEqual([]);
    expect(closed).toMatchObject({ code: 'EOF', message: 'closed' });
  });

  it('skips over-long lines in discard mode (told once per chunk) and reads on', async () => {
    const { lines, overlong } = await read({ maxLineBytes: 4, discardOverlong: true }, [
      'ok\ntoo long\nfine\n',
      'x\n',
    ]);
    expect(lines).toEqual(['ok', 'fine', 'x']);
    expect(overlong).toEqual([undefined]);
  });

  it('otherwise hands the over-long line’s error over and drops that chunk', async () => {
    const { lines, overlong } = await read({ maxLineBytes: 4 }, ['ok\n', 'a\ntoo long\n']);
    expect(lines).toEqual(['ok']);
    expect(overlong).toHaveLength(1);
    expect(overlong[0]).toBeInstanceOf(NutProtocolError);
  });
});
