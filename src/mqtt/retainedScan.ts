import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { MqttConnection } from './connection.js';

export interface RetainedScanDeps {
  connection: MqttConnection;
  /** Subscription filter of the retained messages to read back. */
  filter: string;
  /** The agent's marker topic (`<base>/bridge/sync`). */
  syncTopic: string;
  /** Which retained messages to keep (the agent's own discovery configs). */
  keep: (topic: string, payload: Buffer) => boolean;
  timeoutMs: number;
  logger: Logger;
  /**
   * Aborted when the agent stops or a newer scan starts: the scan ends at once with undefined and leaves the
   * subscriptions alone (a newer scan has the same ones).
   */
  signal: AbortSignal;
}

/**
 * Reads back retained messages: subscribes to `filter`, keeps the retained ones `keep` accepts, and knows it has
 * seen them all when its own marker on the sync topic comes back (a broker sends retained messages before anything
 * published after the subscription). Resolves topic → payload, or undefined when the connection was lost meanwhile
 * or the scan was aborted.
 */
export async function scanRetained(deps: RetainedScanDeps): Promise<Map<string, string> | undefined> {
  const { connection, syncTopic, logger: log, signal } = deps;
  const nonce = randomUUID();
  const found = new Map<string, string>();
  const filters = [deps.filter, syncTopic];
  let done!: () => void;
  const finished = new Promise<boolean>((resolve) => {
    done = () => resolve(false);
  });
  const removeListener = connection.onMessage((topic, payload, packet) => {
    if (topic === syncTopic) {
      if (payload.toString('utf8') === nonce) done();
    } else if (packet.retain && deps.keep(topic, payload)) found.set(topic, payload.toString('utf8'));
  });
  signal.addEventListener('abort', done);
  let timer: NodeJS.Timeout | undefined;
  try {
    await connection.subscribe(filters, { qos: 1 });
    void connection.publish(syncTopic, nonce, { qos: 1, retain: false });
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), deps.timeoutMs);
    });
    if (await Promise.race([finished, timeout]))
      log.warn('the broker did not echo the discovery scan marker in time; clearing only what was seen');
    if (signal.aborted) return undefined;
    await connection.unsubscribe(filters).catch(() => undefined);
  } catch (error) {
    if (!connection.connected) return undefined;
    // Refused (an ACL on the discovery prefix, say): publish anyway; leftovers cannot be found.
    log.warn({ err: error }, 'cannot read retained discovery configs: leftovers of removed UPSes stay');
  } finally {
    clearTimeout(timer);
    removeListener();
    signal.removeEventListener('abort', done);
  }
  if (!connection.connected || signal.aborted) return undefined;
  log.info(
    { found: found.size },
    `found ${found.size} retained discovery config(s) of this agent on the broker`,
  );
  return found;
}
