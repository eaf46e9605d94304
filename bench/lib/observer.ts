// An independent observer: our NutClient on ONE persistent connection to a lab's upsd, reading
// `GET VAR <ups> ups.status`. "Fresh" = a real status (not WAIT) and no ERR.
import { NutClient } from '../../src/nut/client.js';
import { sleep } from './header.js';

export interface Sample {
  /** Date.now() when the answer arrived. */
  t: number;
  fresh: boolean;
  /** The status, or the error code (DATA-STALE, DRIVER-NOT-CONNECTED, ECONNREFUSED, …). */
  value: string;
}

export class StatusObserver {
  private readonly client: NutClient;

  constructor(port: number) {
    this.client = new NutClient({ host: '127.0.0.1', port, requestTimeoutMs: 2000, connectTimeoutMs: 1000 });
    // Disconnects are reported through the failing requests; nothing to do here.
    this.client.on('disconnect', () => undefined);
  }

  async read(ups: string): Promise<Sample> {
    try {
      const value = await this.client.getVar(ups, 'ups.status');
      return { t: Date.now(), fresh: value !== 'WAIT', value };
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { t: Date.now(), fresh: false, value: code ?? (error as Error).message };
    }
  }

  /** Until the status has been fresh for `quietMs` without a break; false after `timeoutMs`. */
  async waitFresh(ups: string, timeoutMs: number, quietMs = 0): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let freshSince: number | undefined;
    while (Date.now() < deadline) {
      const s = await this.read(ups);
      freshSince = s.fresh ? (freshSince ?? s.t) : undefined;
      if (freshSince !== undefined && s.t - freshSince >= quietMs) return true;
      await sleep(100);
    }
    return false;
  }

  /** Samples every `intervalMs` until stopped. */
  track(ups: string, intervalMs = 50): Tracker {
    return new Tracker(this, ups, intervalMs);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

export class Tracker {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly observer: StatusObserver,
    readonly ups: string,
    private readonly intervalMs: number,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let next = Date.now();
    while (!this.stopped) {
      this.samples.push(await this.observer.read(this.ups));
      next = Math.max(next + this.intervalMs, Date.now());
      await sleep(next - Date.now());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
