import { describe, expect, it } from 'vitest';
import { isStartChatter } from '../../src/supervisor/nutChatter.js';

describe('isStartChatter', () => {
  it('knows the lines NUT writes on every normal start of upsd and a driver (NUT 2.8.0)', () => {
    for (const line of [
      'fopen /tmp/nm-Xnr926/st/upsd.pid: No such file or directory',
      "Could not find PID file '/tmp/nm-Xnr926/st/upsd.pid' to see if previous upsd instance is already running!",
      'Running as foreground process, not saving a PID file',
      "Can't connect to UPS [ups] (dummy-ups-ups): No such file or directory",
    ])
      expect(isStartChatter(line), line).toBe(true);
  });

  it('knows what NUT 2.8.1 (Debian trixie, in the image) adds when no systemd runs it', () => {
    for (const line of [
      'upsnotify: notify about state 2 with libsystemd: was requested, but not running as a service unit now, will not spam more about it',
      'upsnotify: logged the systemd watchdog situation once, will not spam more about it',
      'upsnotify: failed to notify about state 2: no notification tech defined, will not spam more about it',
      // A NUT 2.8.1 bug with -u root (opening the socket as a file: ENXIO); upsd runs as the same user anyway.
      'WARNING: Needed to fix group access to filesystem socket of this driver, but failed; run the driver with more debugging to see how exactly.',
      'Consumers of the socket, such as upsd data server, can fail to interact with the driver and represent the device: /var/run/nut/dummy-ups-ups',
    ])
      expect(isStartChatter(line), line).toBe(true);
  });

  it('leaves everything else at info: real trouble and the lines that show progress', () => {
    for (const line of [
      'listening on 127.0.0.1 port 45795',
      'Connected to UPS [ups]: dummy-ups-ups',
      "Can't connect to UPS [ups] (dummy-ups-ups): Connection refused",
      'fopen /etc/nut/ups.conf: Permission denied',
      'Data for UPS [ups] is stale - check driver',
      'Communications with UPS lost: status read failed!',
      'WARNING: Needed to fix group access to filesystem socket of this driver',
    ])
      expect(isStartChatter(line), line).toBe(false);
  });
});
