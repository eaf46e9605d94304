import type { AgentConfigShape } from '../config/schema.js';
import type { EventBus } from '../events.js';
import type { Logger } from '../logger.js';
import type { NutClient } from '../nut/client.js';
import type { UpsConfEntry } from '../nut/confParser.js';
import { knock } from '../nut/knock.js';
import type { DriverSocketCapabilities } from '../nut/nutCapabilities.js';
import { driverBinary, driverSocketPath, type NutSetup, userArgs } from '../nut/nutSetup.js';
import { isUsbDriver, usbSelector } from '../usb/usbMatch.js';
import { UsbResetter } from '../usb/usbReset.js';
import { reportAction } from './actionReport.js';
import { DriverWatch } from './driverWatch.js';
import { waitForFreshStatus } from './freshStatus.js';
import { describeExit, ManagedProcess } from './managedProcess.js';
import { climbLadder, type LadderContext } from './recoveryLadder.js';
import type { RecoveryReason, UpsSnapshot } from './types.js';
import { UpsReadings } from './upsReadings.js';
import {
  initialState,
  type MachineAction,
  type MachineConfig,
  type MachineInput,
  type MachineState,
  machineConfig,
  nextDeadline,
  step,
} from './upsStateMachine.js';
import { UsbResetRung } from './usbResetRung.js';

export type SupervisorTimings = AgentConfigShape['supervisor'];

export interface UpsSupervisorDeps {
  ups: UpsConfEntry;
  setup: NutSetup;
  timings: SupervisorTimings;
  bus: EventBus;
  logger: Logger;
  /** The shared persistent connection to upsd. */
  client: NutClient;
  /** What the drivers' sockets understand (known once the supervisor has read the NUT version). */
  driverSocketCapabilities: () => DriverSocketCapabilities;
  now?: () => number;
  /** Tests bring a USB resetter on a fake sysfs; by default one on SYSFS_ROOT, for USB drivers with USB_RESET on. */
  usbResetter?: UsbResetter;
}

/** Result of a poll of upsd for this UPS. */
export type PollResult =
  | { ok: true; vars: Map<string, string> }
  | { ok: false; code: string; message: string };

/** How a requested restart ended. */
export type RestartOutcome = { ok: true; durationMs: number } | { ok: false; error: string };

/** Fire a deadline timer slightly late rather than early, so the machine sees the deadline as passed. */
const TICK_SLACK_MS = 5;

/**
 * Supervises one UPS: its driver process, the persistent probe on the driver's socket, and the state machine.
 * Nothing here touches another UPS's driver; a hung UPS holds up no other.
 */
export class UpsSupervisor {
  readonly name: string;
  private readonly deps: UpsSupervisorDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly machineConfig: MachineConfig;
  private machine: MachineState;
  private driver: ManagedProcess | undefined;
  /** Probe and CPU watchdog of the current driver process. */
  private readonly watch: DriverWatch;
  /** Undefined for a non-USB driver, with USB_RESET off, or without a USB bus in sysfs. */
  private readonly usbResetRung: UsbResetRung | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly readings: UpsReadings;
  private lastFreshAt: number | undefined;
  /** lastFreshAt when the state last left `ok`: where the outage a `recovered` event reports began. */
  private freshBeforeFault: number | undefined;
  private restarts = 0;
  private lastRestartAt: number | undefined;
  private lastRestartReason: RecoveryReason | undefined;
  private recovery: Promise<void> | undefined;
  /** The fast check for the first data while starting (awaitFirstData). */
  private firstData: Promise<void> | undefined;
  private readonly restartWaiters: Array<(outcome: RestartOutcome) => void> = [];
  private readonly ladder: LadderContext;
  private readonly stopping = new AbortController();

  constructor(deps: UpsSupervisorDeps) {
    this.deps = deps;
    this.name = deps.ups.name;
    this.log = deps.logger.child({ ups: deps.ups.name });
    this.now = deps.now ?? Date.now;
    this.machineConfig = machineConfig(deps.timings);
    this.machine = initialState(this.now());
    this.usbResetRung = UsbResetRung.create({
      ups: deps.ups,
      timings: deps.timings,
      bus: deps.bus,
      log: this.log,
      now: this.now,
      resetter: deps.usbResetter,
    });
    this.watch = new DriverWatch({
      ups: deps.ups,
      setup: deps.setup,
      timings: deps.timings,
      bus: deps.bus,
      log: this.log,
      now: this.now,
      capabilities: deps.driverSocketCapabilities,
      isCurrent: (driver) => this.driver === driver && !this.stopped,
      dispatch: (input) => this.dispatch(input),
      onVar: (name, value) => this.readings.feedVar(name, value),
      onDriverFresh: () => {
        this.lastFreshAt = this.now();
      },
    });
    const usbView = isUsbDriver(deps.ups.driver)
      ? (deps.usbResetter ?? new UsbResetter({ sysfsRoot: deps.timings.sysfsRoot }))
      : undefined;
    this.ladder = {
      ups: this.name,
      timings: deps.timings,
      bus: deps.bus,
      log: this.log,
      now: this.now,
      client: deps.client,
      rung: this.usbResetRung,
      stopped: () => this.stopped,
      stopping: this.stopping.signal,
      current: () => this.driver,
      closeWatch: () => this.watch.close(),
      startDriver: (quiet) => this.startDriver(quiet),
      knock: this.knockOnSocket,
      usbProblem: () => this.watch.usbProblem,
      reportUsbProblem: (problem, line) => this.watch.problemReport.report(problem, line),
      deviceVisible: async () => usbView?.sees(usbSelector(deps.ups.options)),
    };
    this.readings = new UpsReadings({
      ups: this.name,
      bus: deps.bus,
      log: this.log,
      now: this.now,
      changed: () => {
        if (!this.stopped) this.emitUpdated();
      },
    });
  }

  get driverPid(): number | undefined {
    return this.driver?.running ? this.driver.pid : undefined;
  }

  /** Starts the driver and the supervision clock. */
  start(): void {
    this.machine = initialState(this.now());
    const driver = this.startDriver();
    this.scheduleTick();
    this.firstData = this.awaitFirstData(driver);
  }

  /**
   * While starting, upsd is asked as often as a recovery asks (freshStatus.ts): the UPS is `ok` as soon as upsd
   * serves the driver's first data, with all of it (LIST VAR), not at the next poll. The start timeout stays.
   */
  private async awaitFirstData(driver: ManagedProcess): Promise<void> {
    const { client, timings } = this.deps;
    const starting = () => !this.stopped && this.driver === driver && this.machine.name === 'starting';
    const result = await waitForFreshStatus({
      client,
      ups: this.name,
      driver,
      deadline: this.machine.since + timings.startTimeout,
      timeoutMs: timings.startTimeout,
      now: this.now,
      stopped: () => !starting(),
    });
    if (!result.ok || !starting()) return;
    const sentAt = this.now();
    const vars = await client.listVar(this.name).catch(() => undefined);
    if (!starting()) return;
    if (vars) this.readings.applyPoll(vars, sentAt);
    else this.readings.noteStatus(result.status, 'upsd');
    if (this.watch.driverStale) return; // as for a poll: the driver's own stale flag wins
    this.lastFreshAt = this.now();
    this.dispatch({ type: 'fresh' });
  }

  /** From now on nothing is recovered: the agent is shutting down (the driver keeps running until stop()). */
  prepareStop(): void {
    if (this.machine.name === 'stopped') return;
    this.dispatch({ type: 'stop' });
  }

  /** Stops supervision and the driver (graceful, then forced). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.prepareStop();
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.tickTimer);
    await this.watch.close();
    await this.firstData;
    await this.recovery?.catch(() => undefined);
    if (this.driver) {
      const { forced } = await this.driver.stop(this.deps.timings.stopTimeout, this.knockOnSocket);
      if (forced) this.log.warn({ childPid: this.driver.pid }, 'driver needed SIGKILL to stop');
    }
    this.settleRestartWaiters({ ok: false, error: 'agent stopping' });
  }

  /**
   * Restarts the driver on request. Resolves when it is back with fresh data, or with the error when the recovery
   * failed. A request while a recovery runs joins that recovery.
   */
  requestRestart(reason: 'manual' | 'upsd-restarted'): Promise<RestartOutcome> {
    if (this.stopped) return Promise.resolve({ ok: false, error: 'agent stopping' });
    const outcome = new Promise<RestartOutcome>((resolve) => this.restartWaiters.push(resolve));
    this.dispatch({ type: 'restart-requested', reason });
    return outcome;
  }

  /** A poll of upsd for this UPS; `sentAt` is when the request went out. */
  handlePoll(result: PollResult, sentAt: number): void {
    if (this.stopped) return;
    if (!result.ok) {
      if (result.code === 'DATA-STALE') {
        this.deps.bus.emit('stale', { ups: this.name, source: 'upsd', at: this.now() });
        this.dispatch({ type: 'stale', source: 'upsd' });
      } else if (result.code === 'DRIVER-NOT-CONNECTED') {
        this.dispatch({ type: 'not-connected' });
      } else {
        this.log.warn({ code: result.code }, `upsd poll failed: ${result.message}`);
      }
      return;
    }
    if (this.readings.applyPoll(result.vars, sentAt) === undefined) return;
    // upsd serves a driver's last values until its MAXAGE runs out: while the driver itself says its data is
    // stale, a poll's answer is not fresh data (it would clear the grace period and restart it a poll later).
    if (this.watch.driverStale) return;
    this.lastFreshAt = this.now();
    this.dispatch({ type: 'fresh' });
  }

  /** Instant commands upsd lists for this UPS (set by the supervisor after LIST CMD). */
  setCommands(commands: string[]): void {
    this.readings.setCommands(commands);
  }

  snapshot(): UpsSnapshot {
    const { ups } = this.deps;
    return {
      name: ups.name,
      ...(ups.desc ? { description: ups.desc } : {}),
      driver: ups.driver,
      ...this.readings.current(),
      supervisor: {
        state: this.machine.name,
        restarts: this.restarts,
        ...(this.lastRestartAt ? { lastRestartAt: new Date(this.lastRestartAt).toISOString() } : {}),
        ...(this.lastRestartReason ? { lastRestartReason: this.lastRestartReason } : {}),
        ...(this.lastFreshAt ? { lastFreshAt: this.lastFreshAt } : {}),
        ...(this.driverPid ? { childPid: this.driverPid } : {}),
        ...(this.watch.problemReport.problem ? { usbProblem: this.watch.problemReport.problem } : {}),
      },
    };
  }

  // --- the state machine ---------------------------------------------------------------------------------------

  private dispatch(input: MachineInput): void {
    const before = this.machine;
    const { state, actions } = step(before, input, this.now(), this.machineConfig);
    this.machine = state;
    if (before.name === 'ok' && state.name !== 'ok') {
      const silentSince = input.type === 'hung' ? this.watch.hungSilentSince : undefined;
      this.freshBeforeFault =
        this.lastFreshAt === undefined || silentSince === undefined
          ? this.lastFreshAt
          : Math.min(this.lastFreshAt, silentSince);
    }
    if (state.name === 'ok') this.watch.problemReport.clear();
    if (state.name !== before.name) {
      this.log.info(
        { from: before.name, to: state.name, input: input.type },
        `state ${before.name} → ${state.name}`,
      );
      this.deps.bus.emit('state-changed', {
        ups: this.name,
        from: before.name,
        to: state.name,
        at: this.now(),
      });
    }
    for (const action of actions) this.perform(action);
    if (state !== before) this.scheduleTick();
  }

  /** One timer for the machine's next deadline (grace, start timeout, backoff); none while only events matter. */
  private scheduleTick(): void {
    clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    const deadline = nextDeadline(this.machine, this.machineConfig);
    if (deadline === undefined || this.stopped) return;
    this.tickTimer = setTimeout(
      () => this.dispatch({ type: 'tick' }),
      Math.max(0, deadline - this.now()) + TICK_SLACK_MS,
    );
  }

  private perform(action: MachineAction): void {
    if (action.type === 'recover') {
      this.recovery = this.runRecovery(action.reason, action.attempt);
      return;
    }
    const { bus } = this.deps;
    reportAction(action, {
      ups: this.name,
      bus,
      log: this.log,
      at: this.now(),
      freshBeforeFault: this.freshBeforeFault,
    });
    if (action.type === 'recovered') this.settleRestartWaiters({ ok: true, durationMs: action.durationMs });
    if (action.type === 'recovery-failed') this.settleRestartWaiters({ ok: false, error: action.error });
  }

  private settleRestartWaiters(outcome: RestartOutcome): void {
    for (const resolve of this.restartWaiters.splice(0)) resolve(outcome);
  }

  // --- the driver process and its probe --------------------------------------------------------------------------

  /** `quiet`: a start while waiting for the USB device (recoveryLadder.ts): debug log only, nothing on the bus. */
  private startDriver(quiet = false): ManagedProcess {
    const { ups, setup, bus } = this.deps;
    const driver = new ManagedProcess({
      label: `${ups.driver} -a ${ups.name}`,
      file: driverBinary(setup, ups),
      args: ['-a', ups.name, '-F', ...userArgs(setup)],
      env: setup.childEnv,
      logger: this.log.child({ child: ups.driver }),
      onStderrLine: (line) => this.watch.driverSaid(driver, line),
    });
    this.driver = driver;
    const childPid = driver.start();
    if (childPid !== undefined) {
      this.log[quiet ? 'debug' : 'info']({ childPid }, `started ${ups.driver}`);
      if (!quiet) bus.emit('driver-started', { ups: this.name, childPid, at: this.now() });
      this.watch.attach(driver, childPid);
    }
    void driver.exited.then((exit) => {
      const pid = childPid ?? 0;
      this.log[quiet ? 'debug' : exit.expected ? 'info' : 'warn'](
        { childPid: pid, code: exit.code, signal: exit.signal, spawnError: exit.spawnError },
        `${ups.driver} exited${exit.expected ? '' : ' unexpectedly'} (${describeExit(exit)})`,
      );
      const { code, signal, expected } = exit;
      if (!quiet)
        bus.emit('driver-exited', { ups: this.name, childPid: pid, code, signal, expected, at: this.now() });
      if (this.driver !== driver) return;
      const problem = this.watch.usbProblem;
      if (problem && !exit.expected) this.watch.problemReport.report(problem.problem, problem.line);
      void this.watch.close();
      if (!exit.expected && !this.stopped) this.dispatch({ type: 'driver-exited' });
    });
    return driver;
  }

  /** Wakes a driver's main loop after SIGTERM (knock.ts): NUT 2.8.1+ would otherwise wait out its poll interval. */
  private readonly knockOnSocket = () => knock(driverSocketPath(this.deps.setup, this.deps.ups));

  private emitUpdated(): void {
    this.deps.bus.emit('ups-updated', { snapshot: this.snapshot(), at: this.now() });
  }

  // --- the recovery ladder ---------------------------------------------------------------------------------------

  /** The ladder (recoveryLadder.ts), with the bookkeeping around it: counts, events, the machine's next input. */
  private async runRecovery(reason: RecoveryReason, attempt: number): Promise<void> {
    const { bus, ups } = this.deps;
    const startedAt = this.now();
    this.restarts += 1;
    this.lastRestartAt = startedAt;
    this.lastRestartReason = reason;
    this.log.warn({ reason, attempt }, `recovering ${ups.driver} (${reason}, attempt ${attempt})`);
    bus.emit('recovering', { ups: this.name, reason, attempt, at: startedAt });
    const result = await climbLadder(this.ladder, attempt, startedAt);
    if (result.ok) this.readings.noteStatus(result.status, 'upsd');
    if (this.stopped) return;
    if (!result.ok) {
      this.dispatch({ type: 'recovery-failed', error: result.error });
      return;
    }
    this.lastFreshAt = this.now();
    this.dispatch({ type: 'recovery-succeeded' });
  }
}
