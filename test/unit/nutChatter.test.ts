import { describe, expect, it } from 'vitest';
import { isStartChatter } from '../../src/supervisor/nutChatter.js';

describe('isStartChatter', () => {
  it('knows the lines NUT writes on every normal start of upsd and a driver (seen on NUT 2.8.0)', () => {
    for (const line of [
      'fopen /tmp/nm-Xnr926/st/upsd.pid: No such file or directory',
      "Could not find PID file '/tmp/nm-Xnr926/st/upsd.pid' to see if previous upsd instance is already running!",
      'Running as foreground process, not saving a PID file',
      "Can't connect to UPS [ups] (dummy-ups-ups): No such file or directory",
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
    ])
      expect(isStartChatter(line), line).toBe(false);
  });
});
