import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { HealthReport } from './healthCheck.js';

export interface HealthFileDeps {
  file: string;
  intervalMs: number;
  health: () => HealthReport;
  logger: Logger;
}

/** The file's text: its first word is the verdict a shell can read (`healthy` / `unhealthy`), then the report. */
export function healthFileText(report: HealthReport): string {
  const verdict = report.ok ? 'healthy' : `unhealthy: ${report.reasons.join('; ')}`;
  return `${verdict}\n${JSON.stringify(report)}\n`;
}

/**
 * The container's health check without a Node process: the agent rewrites HEALTH_FILE every interval with the
 * /healthz verdict, so a check needs only to read its first word and its age (docker/healthcheck.sh). A file that
 * stops being rewritten means the agent is stuck or gone, which the check reports as unhealthy too.
 */
export class HealthFile implements Extension {
  readonly name = 'health-file';
  private readonly deps: HealthFileDeps;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(deps: HealthFileDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    await mkdir(dirname(this.deps.file), { recursive: true });
    await this.write();
    this.timer = setInterval(() => {
      this.writing = this.writing.then(() => this.write());
    }, this.deps.intervalMs);
  }

  /** The file goes with the agent: a stopped agent is not healthy. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.writing;
    await rm(this.deps.file, { force: true });
  }

  private async write(): Promise<void> {
    const { file, health, logger } = this.deps;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeFile(tmp, healthFileText(health()));
      await rename(tmp, file);
      if (this.failing) logger.info({ file }, 'health file written again');
      this.failing = false;
    } catch (error) {
      // Once per failure streak: the check sees the old file age and reports the agent unhealthy.
      if (!this.failing) logger.warn({ file, err: error }, `cannot write the health file ${file}`);
      this.failing = true;
    }
  }
}
