/**
 * Lines NUT's programs write on every normal start under the agent that read like trouble but are not. They are
 * logged at debug, not info, so a user's first look at the log shows no false alarm. A driver that really stays
 * unreachable is reported by the agent itself (upsd's DRIVER-NOT-CONNECTED, the start timeout).
 */
const START_CHATTER: readonly RegExp[] = [
  // The agent runs upsd and the drivers in the foreground (-F): there is no pid file to find.
  /^fopen \S+\.pid: No such file or directory$/,
  /^Could not find PID file .* to see if previous \S+ instance is already running!?$/,
  /^Running as foreground process, not saving a PID file$/,
  // upsd starts before a driver has made its socket, and connects once it has.
  /^Can't connect to UPS \[[^\]]+\] \([^)]+\): No such file or directory$/,
  // NUT 2.8.1+ built with systemd support, started by something else than systemd (the agent, in a container).
  /^upsnotify: .*will not spam more about it$/,
  // NUT 2.8.1 drivers started with -u <user> other than the built-in one try to give their socket to the built-in
  // group, opening the socket as a file, which always fails (ENXIO). Harmless here: the agent runs upsd and every
  // driver as the same user (NUT_USER), so upsd can use the socket whatever its group.
  /^WARNING: Needed to fix group access to filesystem socket of this driver, but failed; run the driver with more debugging to see how exactly\.$/,
  /^Consumers of the socket, such as upsd data server, can fail to interact with the driver and represent the device: \S+$/,
];

/** True for a line of NUT's start-up chatter (see START_CHATTER); the line is still logged, at debug. */
export function isStartChatter(line: string): boolean {
  const text = line.trim();
  return START_CHATTER.some((re) => re.test(text));
}
