// Static checks of the Dockerfile and compose file; test/lab/image.test.ts builds and runs the image itself.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { schema } from '../../src/config/schema.js';

const root = join(import.meta.dirname, '../..');
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
const compose = YAML.parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8')) as {
  services: Record<
    string,
    {
      environment?: Record<string, string>;
      ports?: string[];
      volumes?: string[];
      devices?: string[];
      restart?: string;
      profiles?: string[];
      build?: string;
    }
  >;
};

/** Instructions with continuation lines joined. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

function schemaEnvNames(): Set<string> {
  const names = new Set<string>();
  const visit = (node: Record<string, unknown>) => {
    for (const value of Object.values(node)) {
      const item = value as { env?: string; default?: unknown };
      if (item && typeof item === 'object' && 'default' in item) {
        if (item.env) names.add(item.env);
      } else visit(value as Record<string, unknown>);
    }
  };
  visit(schema as unknown as Record<string, unknown>);
  return names;
}

const cliSource = readFileSync(join(root, 'src/cli.ts'), 'utf8');

describe('Dockerfile', () => {
  const froms = instructions.filter((l) => l.startsWith('FROM '));

  it('is multi-stage: a Node LTS build (major pinned), the runtime on the same Debian with only the node binary', () => {
    expect(froms).toEqual([
      expect.stringMatching(/^FROM node:(24|26)-trixie-slim AS build$/),
      'FROM debian:trixie-slim AS nut',
      'FROM debian:trixie-slim AS runtime',
    ]);
    // No per-architecture instruction: one file builds linux/amd64 and linux/arm64 (the lab builds both).
    expect(instructions.filter((l) => /amd64|x86_64|aarch64|arm64|armhf/.test(l))).toEqual([]);
    expect(instructions).toContain('COPY --from=build /usr/local/bin/node /usr/local/bin/node');
    expect(instructions).toContainEqual(expect.stringMatching(/^RUN find node_modules -type f .*-delete/));
    // `# syntax=` makes BuildKit pull its frontend from Docker Hub.
    expect(dockerfile).not.toMatch(/^#\s*syntax=/m);
    // npm gets a proxy's CA only as a build secret, never in a layer.
    expect(instructions).toContainEqual(
      expect.stringMatching(/^RUN --mount=type=secret,id=ca,target=\/run\/secrets\/ca .*npm ci\b/),
    );
    expect(instructions).toContainEqual(expect.stringMatching(/^RUN npm run build && npm prune --omit=dev$/));
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.build).toMatch(/^tsc /);
  });

  it("takes Debian's NUT and tini through the collect stage, copies only production output, runs under tini", () => {
    expect(instructions).toContainEqual(
      expect.stringMatching(/apt-get install -y --no-install-recommends nut-server nut-client tini\b/),
    );
    expect(instructions).toContain('COPY --from=nut /out/ /');
    expect(instructions).toContain('COPY --from=build /app/dist ./dist');
    expect(instructions).toContain('ENTRYPOINT ["/usr/bin/tini", "--"]');
    expect(instructions).toContain('CMD ["node", "dist/cli.js", "run"]');
    // dist/cli.js is what tsc makes of src/cli.ts (tsconfig.build.json: rootDir src, outDir dist).
    const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    expect(build.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin['nut-mqtt']).toBe('dist/cli.js');
  });

  it('exposes 3493 and has a healthcheck that starts no Node process: a script on the agent’s health file', () => {
    expect(instructions).toContain('EXPOSE 3493');
    const health = instructions.find((l) => l.startsWith('HEALTHCHECK'));
    expect(health).toMatch(/CMD \["\/usr\/local\/bin\/nut-mqtt-healthcheck"\]$/);
    expect(instructions).toContain('COPY docker/healthcheck.sh /usr/local/bin/nut-mqtt-healthcheck');
    expect(readFileSync(join(root, 'docker/healthcheck.sh'), 'utf8')).toMatch(/^#!\/bin\/sh\n/);
    expect(dockerfile).toMatch(/HEALTH_FILE=\/run\/nut-mqtt\/health\b/);
    // `nut-mqtt health` (HTTP /healthz) stays for people who exec into the container.
    expect(cliSource).toMatch(/case 'health':/);
    expect(dockerfile).toMatch(/HTTP_PORT=\d+/);
  });

  it('sets only environment names the configuration schema knows', () => {
    const env = instructions
      .filter((l) => l.startsWith('ENV '))
      .flatMap((l) => [...l.slice(4).matchAll(/([A-Z_][A-Z0-9_]*)=/g)].map((m) => m[1] as string));
    expect(env.length).toBeGreaterThan(5);
    const known = schemaEnvNames();
    expect(env.filter((name) => name !== 'NODE_ENV' && !known.has(name))).toEqual([]);
    expect(env).toEqual(
      expect.arrayContaining(['NUT_DRIVER_PATH', 'NUT_UPSD_PATH', 'NUT_USER', 'INIT_ON_START', 'DATA_PATH']),
    );
    // DATA_PATH is a volume, so the energy totals outlive the container.
    expect(dockerfile).toMatch(/DATA_PATH=\/data\b/);
    expect(instructions.find((l) => l.startsWith('VOLUME'))).toContain('"/data"');
  });
});

describe('docker-compose.yml', () => {
  const agent = compose.services['nut-mqtt'];

  it('maps USB, keeps /etc/nut on a volume, publishes 3493 and restarts the agent', () => {
    expect(agent?.devices).toContain('/dev/bus/usb:/dev/bus/usb');
    expect(agent?.volumes?.some((v) => v.endsWith(':/etc/nut'))).toBe(true);
    expect(agent?.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
    expect(agent?.ports).toContain('3493:3493');
    expect(agent?.restart).toBe('unless-stopped');
  });

  it('uses only environment names the configuration schema knows, MQTT among them', () => {
    const names = Object.keys(agent?.environment ?? {});
    const commented = [
      ...readFileSync(join(root, 'docker-compose.yml'), 'utf8').matchAll(/#\s*([A-Z][A-Z0-9_]+):/g),
    ].map((m) => m[1] as string);
    const known = schemaEnvNames();
    expect([...names, ...commented].filter((n) => !known.has(n))).toEqual([]);
    expect(names).toContain('MQTT_URL');
  });

  it('offers Mosquitto as an optional profile', () => {
    expect(compose.services.mosquitto?.profiles).toEqual(['broker']);
  });
});
