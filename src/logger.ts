import pino, { type Logger } from 'pino';

/** Paths pino must never print, wherever a secret could end up in a log object. */
const REDACT_PATHS = [
  'password',
  '*.password',
  '*.*.password',
  'passwordFile',
  'auth.password',
  'mqtt.password',
  'nut.password',
  'config.mqtt.password',
  'config.nut.password',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'nut-mqtt' },
      redact: { paths: REDACT_PATHS, censor: '***' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
