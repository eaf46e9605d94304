// Everything the soak starts registers a step here; the steps run newest first, each bounded in time, on a normal
// end, on an error and on Ctrl-C. Running it twice is harmless.
export class Cleanup {
  private readonly steps: Array<{ name: string; fn: () => Promise<void> | void }> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly stepTimeoutMs = 30_000,
    private readonly warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  add(name: string, fn: () => Promise<void> | void): void {
    this.steps.push({ name, fn });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.splice(0).reverse()) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            this.warn(`cleanup: "${step.name}" did not finish within ${this.stepTimeoutMs} ms; moving on`);
            resolve();
          }, this.stepTimeoutMs);
        });
        try {
          await Promise.race([Promise.resolve().then(step.fn), timeout]);
        } catch (error) {
          this.warn(`cleanup: "${step.name}" failed: ${(error as Error).message}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }
}
