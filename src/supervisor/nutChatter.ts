/**
 * Lines NUT's programs write on every normal start that read like trouble but are not: the agent runs upsd and the
 * drivers in the foreground (`-F`), so there is no pid file to find, and upsd starts before a driver has made its
 * socket. They are logged at debug, not info, so a user's first look at the log shows no false alarm. A driver
 * that really stays unreachable is reported by the agent itself (upsd's DRIVER-NOT-CONNECTED, the start timeout).
 */
const START_CHATTER: readonly RegExp[] = [
  /^fopen \S+\.pid: No such file or directory$/,
  /^Could not find PID file .* to see if previous \S+ instance is already running!?$/,
  /^Running as foreground process, not saving a PID file$/,
  /^Can't connect to UPS \[[^\]]+\] \([^)]+\): No such file or directory$/,
  // NUT 2.8.1+: no systemd (or other service manager) to notify inside the agent's process tree.
  /^upsnotify: failed to notify about state .*no notification tech defined/,
  /^upsnotify: notify about state .* not supported/,
];

/** True for a line of NUT's start-up chatter (see START_CHATTER); the line is still logged, at debug. */
export function isStartChatter(line: string): boolean {
  const text = line.trim();
  return START_CHATTER.some((re) => re.test(text));
}
