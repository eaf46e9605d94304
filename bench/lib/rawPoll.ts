// The floor for the poll bench: a bare node socket that writes the same pipelined LIST VAR requests and only
// counts `END LIST VAR` lines (no tokenizing, no maps). The gap to NutClient is its protocol parsing.
import net from 'node:net';

export class RawLister {
  private socket: net.Socket | undefined;
  private waiting: { left: number; resolve: () => void } | undefined;
  private tail = '';

  async connect(port: number): Promise<void> {
    const socket = net.createConnection({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const text = this.tail + chunk;
      const cut = text.lastIndexOf('\n') + 1;
      this.tail = text.slice(cut);
      const done = text.slice(0, cut).split('END LIST VAR').length - 1;
      if (this.waiting && done > 0) {
        this.waiting.left -= done;
        if (this.waiting.left <= 0) this.waiting.resolve();
      }
    });
    this.socket = socket;
  }

  /** Sends LIST VAR for every UPS in one write; resolves when all replies have ended. */
  listAll(upses: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      this.waiting = { left: upses.length, resolve };
      this.socket?.write(upses.map((u) => `LIST VAR ${u}\n`).join(''));
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}
