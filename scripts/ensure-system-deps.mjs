#!/usr/bin/env node
// Makes sure the system programs that the tests, the demo and the agent need are present:
// NUT (upsd, dummy-ups, blazer_ser, usbhid-ups, upsc, upsrw, upsdrvctl), Mosquitto (broker + CLI clients), socat
// (the tests' serial UPS simulator sits behind a socat pseudo-terminal), gcc and libusb's header (the simulated USB UPS); for the Docker lab (the image test and
// the other NUT versions), Debian's docker.io (dockerd and a BuildKit-capable client) and mmdebstrap.
// Installs Debian's packages where they are missing; says clearly what to do where it cannot.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

const NEEDS = [
  {
    pkg: 'nut-server',
    files: [
      '/lib/nut/upsd',
      '/lib/nut/dummy-ups',
      '/lib/nut/blazer_ser',
      '/lib/nut/usbhid-ups',
      '/sbin/upsdrvctl',
    ],
  },
  { pkg: 'nut-client', files: ['/usr/bin/upsc', '/usr/bin/upsrw', '/usr/bin/upscmd'] },
  { pkg: 'mosquitto', files: ['/usr/sbin/mosquitto'] },
  {
    pkg: 'mosquitto-clients',
    files: ['/usr/bin/mosquitto_pub', '/usr/bin/mosquitto_sub', '/usr/bin/mosquitto_passwd'],
  },
  { pkg: 'socat', files: ['/usr/bin/socat'] },
  // The simulated USB UPS (test/fixtures/usbSim): its replacement libusb-1.0 is built from C against libusb's header.
  { pkg: 'libusb-1.0-0-dev', files: ['/usr/include/libusb-1.0/libusb.h'], readable: true },
  { pkg: 'gcc', files: ['/usr/bin/gcc'] },
  { pkg: 'openssl', files: ['/usr/bin/openssl'] },
  { pkg: 'docker.io', files: ['/usr/sbin/dockerd', '/usr/bin/docker'] },
  { pkg: 'mmdebstrap', files: ['/usr/bin/mmdebstrap'] },
];

function present(file, readable) {
  try {
    accessSync(file, readable ? constants.R_OK : constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const missing = NEEDS.filter((n) => !n.files.every((f) => present(f, n.readable))).map((n) => n.pkg);
if (missing.length === 0) {
  console.log(
    'system dependencies: NUT, Mosquitto, socat, gcc + libusb headers, docker.io and mmdebstrap are present',
  );
  process.exit(0);
}

console.log(`system dependencies: missing ${missing.join(', ')}`);
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const hasApt = existsSync('/usr/bin/apt-get');
if (!hasApt) {
  console.error(
    `This machine has no apt-get (not Debian/Ubuntu). Install these with your distribution's package manager, then run again:\n` +
      `  ${missing.join(' ')}\n  (Alpine: apk add nut mosquitto mosquitto-clients socat openssl; NUT_DRIVER_PATH=/usr/lib/nut NUT_UPSD_PATH=/usr/sbin/upsd)`,
  );
  process.exit(1);
}
if (!isRoot) {
  console.error(
    `Installing packages needs root. Run:\n  sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}\nthen run this command again.`,
  );
  process.exit(1);
}

function run(cmd, args) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0) {
    console.error(`${cmd} failed with exit code ${r.status}`);
    process.exit(1);
  }
}

run('apt-get', ['update', '-qq']);
run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing]);
const still = NEEDS.filter((n) => !n.files.every((f) => present(f, n.readable))).map((n) => n.pkg);
if (still.length > 0) {
  console.error(`still missing after install: ${still.join(', ')}`);
  process.exit(1);
}
console.log('system dependencies: installed');
