import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Docker lab has its own run (vitest.lab.config.ts): one engine, files in sequence.
    exclude: ['test/lab/**', '**/node_modules/**'],
    // Integration tests start real upsd/drivers/brokers on loopback; keep parallelism modest on 2 cores.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    coverage: {
      provider: 'v8',
      include: ['src/**/*.ts'],
      reporter: ['text-summary', 'text'],
    },
  },
});
