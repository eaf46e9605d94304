// What any NUT client on port 3493 sees: `GET VAR <ups> ups.status` over one persistent connection (the project's
// own NutClient; it reconnects on the next request after upsd went away). "Real" means an answer other than WAIT:
// no ERR DATA-STALE, no ERR DRIVER-NOT-CONNECTED, no refused connection.
import { NutClient } from '../../src/nut/client.js';

export type UpsdAnswer = { ok: true; status: string } | { ok: false; error: string };

export class UpsdWatch {
  private readonly client: NutClient;
  /** Per UPS: since when every poll has had a real status (reset by any other answer). */
  private readonly realSince = new Map<string, number>();

  constructor(port: number) {
    this.client = new NutClient({ host: '127.0.0.1', port, requestTimeoutMs: 2000, connectTimeoutMs: 2000 });
  }

  /** One GET VAR ups.status per UPS, pipelined. */
  async statuses(upses: readonly string[]): Promise<Map<string, UpsdAnswer>> {
    const answers = await Promise.all(
      upses.map((ups) =>
        this.client.getVar(ups, 'ups.status').then(
          (status): UpsdAnswer => (status === 'WAIT' ? { ok: false, error: 'WAIT' } : { ok: true, status }),
          (error: { code?: string; message?: string }): UpsdAnswer => ({
            ok: false,
            error: String(error.code ?? error.message ?? error),
          }),
        ),
      ),
    );
    return new Map(upses.map((ups, i) => [ups, answers[i] as UpsdAnswer]));
  }

  /**
   * Polls once and updates the streaks; returns, per UPS, since when its status has been real without a break
   * (undefined while it is not).
   */
  async poll(upses: readonly string[]): Promise<Map<string, number | undefined>> {
    const sentAt = Date.now();
    const answers = await this.statuses(upses);
    const out = new Map<string, number | undefined>();
    for (const ups of upses) {
      if (answers.get(ups)?.ok) {
        if (!this.realSince.has(ups)) this.realSince.set(ups, sentAt);
      } else this.realSince.delete(ups);
      out.set(ups, this.realSince.get(ups));
    }
    return out;
  }

  /** Forgets the streaks: the next poll starts them anew (at the start of each fault's window). */
  reset(): void {
    this.realSince.clear();
  }

  /** True when every UPS has a real status right now. */
  async allReal(upses: readonly string[]): Promise<boolean> {
    const answers = await this.statuses(upses);
    return upses.every((ups) => answers.get(ups)?.ok);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
