/**
 * The one line reader of the upsd client (client.ts) and the driver-socket client (driverSocket.ts): a byte stream
 * split into bounded lines, and a connected socket read line by line until it closes.
 */
import type net from 'node:net';
import { type SocketErrorFactory, watchSocket } from './connectSocket.js';
import { type NutClientError, NutProtocolError } from './errors.js';

export interface LineSplitterOptions {
  maxLineBytes: number;
  /** true: skip an over-long line and carry on (driver socket); false: throw NutProtocolError (upsd). */
  discardOverlong?: boolean;
}

/**
 * Accepts chunks of any size (one byte at a time works) and returns complete lines without the LF (and without
 * a CR before it). Lines are split on bytes before decoding, so a UTF-8 character split across chunks is fine.
 * The partial line never holds more than maxLineBytes.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;
  /** Largest number of bytes ever held for an incomplete line (for tests and diagnostics). */
  peakBufferedBytes = 0;
  /** Over-long lines skipped in discard mode. */
  discardedLines = 0;

  constructor(private readonly opts: LineSplitterOptions) {}

  get bufferedBytes(): number {
    return this.size;
  }

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (this.discarding) {
        if (nl === -1) break;
        this.discarding = false;
        start = nl + 1;
        continue;
      }
      if (this.size + (end - start) > this.opts.maxLineBytes) {
        this.parts = [];
        this.size = 0;
        if (!this.opts.discardOverlong) {
          throw new NutProtocolError(`line longer than ${this.opts.maxLineBytes} bytes`);
        }
        this.discarding = true;
        this.discardedLines++;
        continue;
      }
      if (nl === -1) {
        // Copy, so a small tail does not pin a whole socket chunk in memory.
        this.parts.push(Buffer.from(chunk.subarray(start)));
        this.size += chunk.length - start;
        this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.size);
        break;
      }
      const tail = chunk.subarray(start, nl);
      const bytes = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail]);
      this.parts = [];
      this.size = 0;
      const text = bytes.toString('utf8');
      lines.push(text.endsWith('\r') ? text.slice(0, -1) : text);
      start = nl + 1;
    }
    return lines;
  }
}

export interface LineHandlers<E extends NutClientError> {
  /** False once the owner has let go of this socket (a handler dropped or closed it): its lines stop there. */
  owns: () => boolean;
  line: (line: string) => void;
  /**
   * An over-long line. Without discardOverlong: `error` (NutProtocolError), and the chunk's lines are lost with it,
   * so the owner drops the connection. With it: the line was skipped (told once per chunk), reading goes on.
   */
  overlong: (error?: Error) => void;
  /** The end of the connection, as the owner's typed error (see watchSocket). */
  close: (error: E) => void;
}

/**
 * Reads `socket` line by line, with a fresh LineSplitter of `options`, which it returns (for its buffer counters).
 * Chunks and lines arriving after the owner let go of the socket are ignored.
 */
export function readLines<E extends NutClientError>(
  socket: net.Socket,
  options: LineSplitterOptions,
  handlers: LineHandlers<E>,
  wording: { makeError: SocketErrorFactory<E>; lost: string; closed: string },
): LineSplitter {
  const splitter = new LineSplitter(options);
  const onData = (chunk: Buffer): void => {
    if (!handlers.owns()) return;
    const skipped = splitter.discardedLines;
    let lines: string[];
    try {
      lines = splitter.push(chunk);
    } catch (error) {
      handlers.overlong(error as Error);
      return;
    }
    if (splitter.discardedLines !== skipped) handlers.overlong();
    for (const line of lines) {
      if (!handlers.owns()) return;
      handlers.line(line);
    }
  };
  watchSocket(socket, onData, handlers.close, wording);
  return splitter;
}
