import type { Topics } from '../api/topics.js';
import type { Extension } from '../extension.js';
import type { Logger } from '../logger.js';
import type { CommandHandler } from './commandHandler.js';
import type { MqttConnection } from './connection.js';

export interface CommandListenerDeps {
  connection: MqttConnection;
  topics: Topics;
  /** Performs and answers each command (its responses go out through the event publisher). */
  handler: CommandHandler;
  logger: Logger;
}

/**
 * Subscribes to `<base>/+/command` (which also matches `<base>/bridge/command`) and hands every message on a
 * command topic to the command handler; on stop, the handler answers whatever is still pending.
 */
export class CommandListener implements Extension {
  readonly name = 'mqtt-commands';
  private readonly deps: CommandListenerDeps;
  private readonly removers: Array<() => void> = [];

  constructor(deps: CommandListenerDeps) {
    this.deps = deps;
  }

  async start(): Promise<void> {
    const { connection, topics, handler } = this.deps;
    this.removers.push(
      connection.onConnect(() => void this.subscribe()),
      connection.onMessage((topic, payload, packet) => {
        if (topics.isCommandTopic(topic)) handler.handle(topic, payload, { retained: packet.retain });
      }),
    );
  }

  async stop(): Promise<void> {
    for (const remove of this.removers.splice(0)) remove();
    this.deps.handler.stop();
  }

  private async subscribe(): Promise<void> {
    const { connection, topics } = this.deps;
    const filter = topics.upsCommandFilter;
    try {
      // MQTT.js re-subscribes by itself after a reconnect; a repeat call here is a no-op.
      await connection.subscribe([filter], { qos: 1 });
    } catch (error) {
      if (connection.connected)
        this.deps.logger.error(
          { err: error, filter },
          `cannot subscribe to ${filter}: commands will not work`,
        );
    }
  }
}
