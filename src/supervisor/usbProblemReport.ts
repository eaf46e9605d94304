import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import { type UsbProblem, usbProblemHint } from '../usb/usbProblem.js';

/**
 * A UPS's USB problem as the world sees it: said once when it starts or changes (a warning with what to check, a
 * `usb-problem` event), once when it ends, and kept for the UPS's state in between; never once per retry.
 */
export class UsbProblemReport {
  private current: UsbProblem | undefined;

  constructor(
    private readonly deps: {
      ups: string;
      options: Readonly<Record<string, string | true>>;
      retryMs: number;
      bus: EventBus;
      log: Logger;
      now: () => number;
    },
  ) {}

  get problem(): UsbProblem | undefined {
    return this.current;
  }

  /** The driver gave up on its device with `line`. */
  report(problem: UsbProblem, line: string): void {
    if (problem === this.current) return;
    this.current = problem;
    const { ups, options, retryMs, bus, log, now } = this.deps;
    const text = usbProblemHint(problem, options, retryMs);
    log.warn({ problem, driverLine: line }, `USB problem (${problem}): ${text}`);
    bus.emit('usb-problem', { ups, problem, text, line, at: now() });
  }

  /** The driver has its device again (fresh data). */
  clear(): void {
    if (this.current === undefined) return;
    const { ups, bus, log, now } = this.deps;
    log.info({ problem: this.current }, `USB problem (${this.current}) over: the driver has its device`);
    this.current = undefined;
    bus.emit('usb-problem', {
      ups,
      problem: null,
      text: 'the driver has its USB device again',
      line: null,
      at: now(),
    });
  }
}
