// The test files that exercise NUT itself — hang, crash, stale-while-alive (blazer_ser + the Q1 simulator), the
// live feed, instant commands end to end, upsd restarts, clean stops, the lab's own assumptions, the 20-fault
// soak, outages and self-tests (blazer_ser, usbhid-ups), and the real usbhid-ups on the simulated CyberPower USB
// UPS (its libusb stand-in is built on the host) — and so run on every NUT version the lab has. The rest of the
// suite (pure units, config, MQTT-only behaviour) does not change with NUT and runs once, on the host.
export const NUT_FACING_FILES = [
  'test/integration/fixtures.test.ts',
  'test/integration/nutClient.test.ts',
  'test/integration/supervisor.test.ts',
  'test/integration/recovery.test.ts',
  'test/integration/mqtt.test.ts',
  'test/integration/mqttInstcmd.test.ts',
  'test/integration/mqttResilience.test.ts',
  'test/integration/cli.test.ts',
  'test/integration/soak.test.ts',
  'test/integration/spinWatchdog.test.ts',
  'test/integration/firstMinute.test.ts',
  'test/integration/usbhid.test.ts',
  'test/integration/outages.test.ts',
  'test/integration/selfTest.test.ts',
  'test/integration/selfTestUsb.test.ts',
];
