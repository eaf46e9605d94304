/**
 * One feature of the agent around the supervisor (MQTT state, events, discovery, commands, metrics, health). The
 * controller builds every extension with one object of named dependencies (its constructor only stores them),
 * starts them in order after the supervisor and stops them in reverse before it. `stop()` must also be safe on an
 * extension whose `start()` failed or never ran, and must leave no timer, socket or bus listener behind.
 */
export interface Extension {
  /** For logs: which extension failed to start or stop. */
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
