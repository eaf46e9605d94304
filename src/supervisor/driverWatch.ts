import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import type { DriverSocketCapabilities } from '../nut/nutCapabilities.js';
import type { NutSetup } from '../nut/nutSetup.js';
import { isUsbDriver } from '../usb/usbMatch.js';
import { type UsbProblem, usbProblemOf, worseProblem } from '../usb/usbProblem.js';
import { driverLogSignal, RepeatedLine } from './driverLog.js';
import { DriverProbe } from './driverProbe.js';
import type { ManagedProcess } from './managedProcess.js';
import { SpinWatchdog } from './spinWatchdog.js';
import type { MachineInput } from './upsStateMachine.js';
import { UsbProblemReport } from './usbProblemReport.js';

export interface DriverWatchDeps {
  ups: UpsConfEntry;
  setup: NutSetup;
  timings: {
    probeInterval: number;
    probeTimeout: number;
    spinCpuShare: number;
    spinDuration: number;
    usbWaitRetry: number;
  };
  bus: EventBus;
  log: Logger;
  now: () => number;
  capabilities: () => DriverSocketCapabilities;
  /** False once the driver is no longer the UPS's current one, or the supervisor stops. */
  isCurrent: (driver: ManagedProcess) => boolean;
  dispatch: (input: MachineInput) => void;
  /** The driver's live feed: a variable changed (`undefined`: deleted). */
  onVar: (name: string, value: string | undefined) => void;
  /** The driver said DATAOK: its data is fresh again. */
  onDriverFresh: () => void;
}

/**
 * What watches one driver process for its whole life: the persistent probe on its socket (hang, live feed, its
 * own stale flag) and the CPU watchdog (NUT 2.8.0–2.8.2 spin after a client disconnects). It also carries the
 * learned PONG latencies from one driver process of the UPS to the next.
 */
export class DriverWatch {
  private readonly deps: DriverWatchDeps;
  private probe: DriverProbe | undefined;
  private spinWatchdog: SpinWatchdog | undefined;
  /** The last probe's PONG latencies: the next driver process of this UPS starts from them. */
  private pongLatencies: readonly number[] = [];
  /**
   * The last hang was called at a learned timeout, shorter than PROBE_TIMEOUT: the next driver learns anew. Were that
   * timeout too short, the PONGs it cut off would never be learned, and every later driver would inherit it.
   */
  private forgetLatencies = false;
  /** The driver's own stale flag on the current probe connection (DATASTALE until DATAOK). */
  driverStale = false;
  /** When the last driver called hung last answered: upsd kept serving its old values since, not fresh data. */
  hungSilentSince: number | undefined;
  /** Why the current driver process could not get at its USB device, in its own words (usbProblem.ts). */
  usbProblem: { problem: UsbProblem; line: string } | undefined;
  /** usbhid-ups's "No such device" lines of the current process (driverLog.ts). */
  private deviceGone = new RepeatedLine();
  private deviceGoneReported = false;
  /** The UPS's USB problem as said to the world, across driver processes. */
  readonly problemReport: UsbProblemReport;

  constructor(deps: DriverWatchDeps) {
    this.deps = deps;
    const { ups, timings, bus, log, now } = deps;
    this.problemReport = new UsbProblemReport({
      ups: ups.name,
      options: ups.options,
      retryMs: timings.usbWaitRetry,
      bus,
      log,
      now,
    });
  }

  attach(driver: ManagedProcess, childPid: number): void {
    this.usbProblem = undefined;
    this.deviceGone.reset();
    this.deviceGoneReported = false;
    this.attachProbe(driver, childPid);
    this.attachSpinWatchdog(driver, childPid);
  }

  /**
   * A line the driver wrote to stderr. A comm-lost warning it writes only after its own retries (driverLog.ts) is
   * its word that the data is stale, one poll before its DATASTALE.
   */
  driverSaid(driver: ManagedProcess, line: string): void {
    const { ups, now } = this.deps;
    if (!this.deps.isCurrent(driver)) return;
    if (isUsbDriver(ups.driver)) {
      const problem = worseProblem(this.usbProblem?.problem, usbProblemOf(line));
      if (problem !== this.usbProblem?.problem && problem) this.usbProblem = { problem, line };
    }
    const signal = driverLogSignal(ups.driver, line);
    if (signal === 'comm-lost')
      this.reportStale(
        'driver-log',
        `${ups.driver} logged that it lost the UPS after its own retries: data stale`,
      );
    // Once per process: a frozen driver goes on writing the line until it is restarted.
    if (signal === 'device-gone' && this.deviceGone.feed(now()) && !this.deviceGoneReported) {
      this.deviceGoneReported = true;
      this.reportStale(
        'driver-log',
        `${ups.driver} keeps failing with "No such device" and does not reconnect (NUT #1986): upsd serves its last values as if fresh; restarting it`,
      );
    }
  }

  /** The driver's own word that its data is stale (its DATASTALE or its log), to the log, the bus and the machine. */
  private reportStale(source: 'driver' | 'driver-log', message: string): void {
    const { ups, bus, log, now, dispatch } = this.deps;
    log.warn(message);
    bus.emit('stale', { ups: ups.name, source, at: now() });
    dispatch({ type: 'stale', source });
  }

  /** Closes the probe connection (LOGOUT first where the driver knows it; bounded) and stops the CPU watchdog. */
  async close(): Promise<void> {
    this.spinWatchdog?.stop();
    this.spinWatchdog = undefined;
    const probe = this.probe;
    this.probe = undefined;
    if (probe) this.pongLatencies = this.forgetLatencies ? [] : probe.latencies;
    this.forgetLatencies = false;
    await probe?.close();
  }

  /** One persistent probe connection per driver process, for that process's whole life (NUT 2.8.0 leak). */
  private attachProbe(driver: ManagedProcess, childPid: number): void {
    const { setup, ups, timings, bus, log, now, dispatch } = this.deps;
    const name = ups.name;
    this.driverStale = false;
    const probe = new DriverProbe({
      setup,
      ups,
      probeIntervalMs: timings.probeInterval,
      probeTimeoutMs: timings.probeTimeout,
      initialLatencies: this.pongLatencies,
      capabilities: this.deps.capabilities(),
      driverPid: childPid,
      isAlive: () => driver.running && this.deps.isCurrent(driver),
      logger: log,
      onHung: (silentMs, timeoutMs, byRhythm) => {
        log.warn(
          { silentMs, timeoutMs, byRhythm, childPid: driver.pid },
          `driver did not answer PING for ${silentMs} ms (timeout ${timeoutMs} ms${byRhythm ? ', sent while its rhythm says it listens' : ''}): hung`,
        );
        bus.emit('hung', { ups: name, silentMs, timeoutMs, at: now() });
        // A hang called in a listening window says nothing about the PONG latencies: they are kept.
        this.forgetLatencies = !byRhythm && timeoutMs < timings.probeTimeout;
        this.hungSilentSince = now() - silentMs;
        dispatch({ type: 'hung' });
      },
      // Our driver cannot be reached where upsd and the probe look for it: to them it is as good as hung, and the
      // restart makes it bind the socket path again. (The probe has logged both pids as an error.)
      onForeign: () => dispatch({ type: 'hung' }),
      onStatus: (status) => this.deps.onVar('ups.status', status),
      onVar: (varName, value) => this.deps.onVar(varName, value),
      onStale: () => {
        this.driverStale = true;
        this.reportStale('driver', 'driver flags its data stale');
      },
      onFresh: () => {
        this.driverStale = false;
        this.deps.onDriverFresh();
        dispatch({ type: 'fresh' });
      },
    });
    this.probe = probe;
    probe.start();
  }

  /** Watches the driver process's CPU for its whole life. */
  private attachSpinWatchdog(driver: ManagedProcess, childPid: number): void {
    const { timings, bus, log, now, ups } = this.deps;
    this.spinWatchdog?.stop();
    const watchdog = new SpinWatchdog({
      pid: childPid,
      cpuShare: timings.spinCpuShare,
      durationMs: timings.spinDuration,
      now,
      onSpinning: ({ cpuShare, durationMs }) => {
        if (!this.deps.isCurrent(driver) || !driver.running) return;
        const percent = Math.round(cpuShare * 100);
        log.warn(
          { childPid, cpuShare, durationMs },
          `driver spins: ${percent} % of a CPU core for ${Math.round(durationMs / 1000)} s (SPIN_CPU_SHARE ${timings.spinCpuShare}); restarting it`,
        );
        bus.emit('driver-spinning', { ups: ups.name, childPid, cpuShare, durationMs, at: now() });
        this.deps.dispatch({ type: 'spinning' });
      },
    });
    this.spinWatchdog = watchdog;
    watchdog.start();
  }
}
