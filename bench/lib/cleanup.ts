// One place that knows how to stop everything a benchmark started: on normal completion, on an error and on
// Ctrl-C / SIGTERM. Steps run newest first; each is bounded in time so a stuck step cannot hang the exit.
type Step = { name: string; fn: () => Promise<void> | void };

const steps: Step[] = [];
let running: Promise<void> | undefined;

/** Registers a cleanup step; the returned function removes it (when the resource was released normally). */
export function onCleanup(name: string, fn: () => Promise<void> | void): () => void {
  const step = { name, fn };
  steps.push(step);
  return () => {
    const i = steps.indexOf(step);
    if (i >= 0) steps.splice(i, 1);
  };
}

export function runCleanup(): Promise<void> {
  running ??= (async () => {
    for (const step of steps.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          process.stderr.write(`cleanup step "${step.name}" did not finish within 30 s; moving on\n`);
          resolve();
        }, 30_000);
      });
      try {
        await Promise.race([Promise.resolve(step.fn()), timeout]);
      } catch (error) {
        process.stderr.write(`cleanup step "${step.name}" failed: ${(error as Error).message}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
  })();
  return running;
}

/**
 * Runs a benchmark: cleanup always runs, Ctrl-C included. A second Ctrl-C while cleaning up is ignored (with a
 * note) so processes are not left behind; the steps are bounded anyway.
 */
export async function runBench(body: () => Promise<void>): Promise<void> {
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      process.stderr.write(`\n${signal} again: still cleaning up (bounded), please wait\n`);
      return;
    }
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping everything this benchmark started…\n`);
    void runCleanup().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await body();
  } catch (error) {
    process.stderr.write(`\nbenchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  } finally {
    if (!interrupted) await runCleanup();
  }
  if (interrupted) await new Promise(() => undefined); // process.exit(130) comes from the signal handler
  // Everything we started is stopped; do not let a forgotten timer or socket keep the process alive.
  process.exit(process.exitCode ?? 0);
}
