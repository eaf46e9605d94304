import { createServer, type Server } from 'node:http';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { HealthReport } from './healthCheck.js';
import type { Metrics } from './metrics.js';

export interface HealthServerDeps {
  host: string;
  port: number;
  health: () => HealthReport;
  metrics: Metrics;
  logger: Logger;
}

/** `/healthz` (200 or 503 with a JSON reason) and `/metrics` (Prometheus text). Nothing else. */
export class HealthServer implements Extension {
  readonly name = 'health-server';
  private readonly deps: HealthServerDeps;
  private server: Server | undefined;

  constructor(deps: HealthServerDeps) {
    this.deps = deps;
  }

  start(): Promise<void> {
    const { host, port, health, metrics, logger } = this.deps;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
      } else if (path === '/healthz') {
        const report = health();
        res
          .writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json' })
          .end(`${JSON.stringify(report)}\n`);
      } else if (path === '/metrics') {
        metrics.text().then(
          (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
          (error: unknown) => {
            logger.error({ err: error }, 'metrics collection failed');
            res.writeHead(500).end();
          },
        );
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /metrics\n');
      }
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        logger.info(
          { host, port },
          `health and metrics on http://${host.includes(':') ? `[${host}]` : host}:${port}`,
        );
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  }
}
