import { type CpuSample, type SpinConfig, sampleInterval, samplesToKeep, spinVerdict } from './cpuSpin.js';
import { clockTicksPerSecond, readCpuSample } from './procCpu.js';

export interface SpinWatchdogOptions {
  pid: number;
  /** Share of a core (0–1); 0 turns the watchdog off. */
  cpuShare: number;
  durationMs: number;
  /** Called once per process when it has spun for the duration. */
  onSpinning: (verdict: { cpuShare: number; durationMs: number }) => void;
  now?: () => number;
  procRoot?: string;
}

/**
 * Samples one driver process's CPU time from /proc on a timer and reports when it spins (see cpuSpin.ts). One
 * watchdog per driver process: a restarted driver gets a new one, with no history of the old.
 */
export class SpinWatchdog {
  private readonly options: SpinWatchdogOptions;
  private readonly now: () => number;
  private readonly samples: CpuSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reported = false;

  constructor(options: SpinWatchdogOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.options.cpuShare <= 0) return;
    void this.sample();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async sample(): Promise<void> {
    const { pid, cpuShare, durationMs, procRoot } = this.options;
    const ticksPerSecond = await clockTicksPerSecond();
    const sample = await readCpuSample(pid, this.now, procRoot);
    if (this.stopped) return;
    // No /proc, or the process is gone: nothing to watch (its exit is handled elsewhere).
    if (!sample) return;
    const interval = sampleInterval(durationMs);
    this.samples.push(sample);
    this.samples.splice(0, Math.max(0, this.samples.length - samplesToKeep(durationMs, interval)));
    const config: SpinConfig = { cpuShare, durationMs, ticksPerSecond };
    const verdict = spinVerdict(this.samples, config);
    if (verdict.spinning && !this.reported) {
      this.reported = true;
      this.options.onSpinning({ cpuShare: verdict.cpuShare, durationMs: verdict.durationMs });
      return;
    }
    this.timer = setTimeout(() => void this.sample(), interval);
  }
}
