// `nut-mqtt run` started the way the Supervisor starts an add-on (SUPERVISOR_TOKEN in its environment), on a
// machine where the Supervisor's other interfaces are missing: a clear message, exit 2, and nothing written.
// The add-on as a whole (options.json, the services API, the broker, discovery, a hang) runs in the Docker lab:
// test/lab/addon.test.ts.
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { AGENT_CLI } from '../fixtures/agentCli.js';

describe('nut-mqtt run as an add-on where the Supervisor’s interfaces are missing', () => {
  it.skipIf(existsSync('/data'))(
    'names /data/options.json and exits 2 before it starts or writes anything',
    async () => {
      const r = await execa('node', [...AGENT_CLI, 'run'], {
        env: {
          PATH: process.env.PATH ?? '',
          SUPERVISOR_TOKEN: 'token-of-a-test',
          SUPERVISOR_URL: 'http://127.0.0.1:9',
        },
        extendEnv: false,
        reject: false,
        timeout: 30_000,
      });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('nut-mqtt: the add-on options:');
      expect(r.stderr).toContain('/data/options.json cannot be read (ENOENT)');
      expect(r.stderr).not.toContain('token-of-a-test');
      expect(r.stdout).toBe('');
      expect(existsSync('/data')).toBe(false);
    },
  );
});
