import { defineConfig } from 'vitest/config';

// The lab: tests that need a Docker engine (the image as users build it; the NUT versions of other Debian
// releases). One engine for the whole run (globalSetup), files one after another: each is long, and the
// recovery timings inside them should not compete for the machine's two cores.
export default defineConfig({
  test: {
    include: ['test/lab/**/*.test.ts'],
    globalSetup: ['test/lab/globalSetup.ts'],
    fileParallelism: false,
    testTimeout: 20 * 60_000,
    hookTimeout: 20 * 60_000,
  },
});
