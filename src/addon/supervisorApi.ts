import { setTimeout as sleep } from 'node:timers/promises';

/** The Supervisor's documented answer to `GET /services/mqtt` (`data`), checked. */
export interface MqttService {
  host: string;
  port: number;
  ssl: boolean;
  username: string;
  password: string;
  /** "3.1.1" or "5" (MQTT's version as the broker add-on names it). */
  protocol: string;
}

/** A Supervisor interface the add-on needs is missing or answers something else than documented. */
export class SupervisorApiError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SupervisorApiError';
  }
}

export interface SupervisorClient {
  /** `http://supervisor` inside an add-on; tests point it at a stand-in on 127.0.0.1. */
  url: string;
  /** SUPERVISOR_TOKEN. */
  token: string;
  timeoutMs?: number;
  /** Attempts for answers that may come right a moment later (no connection, 5xx); 4xx is final at once. */
  attempts?: number;
  retryDelayMs?: number;
}

const MQTT_HINT =
  'is the Mosquitto broker add-on (or another MQTT service) installed and started? This add-on declares `services: mqtt:need`';

/** `data` of the answer, checked field by field; never echoes the credentials. */
export function parseMqttService(body: unknown): MqttService {
  const answer = body as { result?: unknown; data?: unknown; message?: unknown } | null;
  if (typeof answer !== 'object' || answer === null)
    throw new SupervisorApiError('the Supervisor’s /services/mqtt answer is not a JSON object');
  if (answer.result !== 'ok') {
    const message = typeof answer.message === 'string' ? `: ${answer.message.slice(0, 200)}` : '';
    throw new SupervisorApiError(
      `the Supervisor has no MQTT service for this add-on${message} (${MQTT_HINT})`,
    );
  }
  const data = answer.data as Record<string, unknown> | null;
  const problems: string[] = [];
  if (typeof data !== 'object' || data === null) problems.push('data is missing');
  else {
    if (typeof data.host !== 'string' || !/^[A-Za-z0-9.:_-]{1,253}$/.test(data.host)) problems.push('host');
    if (typeof data.port !== 'number' || !Number.isInteger(data.port) || data.port < 1 || data.port > 65535)
      problems.push('port');
    if (data.ssl !== undefined && typeof data.ssl !== 'boolean') problems.push('ssl');
    for (const key of ['username', 'password', 'protocol'])
      if (data[key] !== undefined && typeof data[key] !== 'string') problems.push(key);
  }
  if (problems.length > 0 || !data)
    throw new SupervisorApiError(
      `the Supervisor’s /services/mqtt answer is not as documented (bad or missing: ${problems.join(', ')})`,
    );
  return {
    host: data.host as string,
    port: data.port as number,
    ssl: (data.ssl as boolean | undefined) ?? false,
    username: (data.username as string | undefined) ?? '',
    password: (data.password as string | undefined) ?? '',
    protocol: (data.protocol as string | undefined) ?? '3.1.1',
  };
}

/** MQTT_PROTOCOL_VERSION for the service's protocol. */
export function protocolVersion(protocol: string): 4 | 5 {
  if (/^3\.1\.1$/.test(protocol)) return 4;
  if (/^5(\.0)?$/.test(protocol)) return 5;
  throw new SupervisorApiError(
    `the MQTT service speaks protocol "${protocol.slice(0, 20)}"; nut-mqtt speaks 3.1.1 and 5`,
  );
}

/** The broker URL for the service (no credentials in it: they go to MQTT_USERNAME / MQTT_PASSWORD). */
export function mqttServiceUrl(service: MqttService): string {
  const host = service.host.includes(':') ? `[${service.host}]` : service.host;
  return `${service.ssl ? 'mqtts' : 'mqtt'}://${host}:${service.port}`;
}

/**
 * The broker and its credentials from the Supervisor's services API (`GET <url>/services/mqtt`, Bearer
 * SUPERVISOR_TOKEN), as Home Assistant documents it for add-ons that declare `services: mqtt:need|want`.
 */
export async function fetchMqttService(client: SupervisorClient): Promise<MqttService> {
  if (!client.token)
    throw new SupervisorApiError(
      'SUPERVISOR_TOKEN is not set: the Supervisor gives every add-on one; is this an add-on?',
    );
  const url = `${client.url.replace(/\/+$/, '')}/services/mqtt`;
  const attempts = client.attempts ?? 5;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Bearer ${client.token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(client.timeoutMs ?? 10_000),
      });
    } catch (error) {
      const { cause } = error as { cause?: { code?: string; message?: string } };
      const reason = cause?.code ?? cause?.message ?? (error as Error).message;
      last = `cannot reach the Supervisor at ${url} (${reason})`;
      if (attempt < attempts) await sleep(client.retryDelayMs ?? 2000);
      continue;
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (response.status === 401 || response.status === 403)
      throw new SupervisorApiError(
        `the Supervisor refused SUPERVISOR_TOKEN for ${url} (HTTP ${response.status})`,
      );
    if (response.status >= 500) {
      last = `the Supervisor answered HTTP ${response.status} for ${url}`;
      if (attempt < attempts) await sleep(client.retryDelayMs ?? 2000);
      continue;
    }
    if (!response.ok) {
      const message = (body as { message?: unknown } | undefined)?.message;
      throw new SupervisorApiError(
        `the Supervisor answered HTTP ${response.status} for ${url}${typeof message === 'string' ? `: ${message.slice(0, 200)}` : ''} (${MQTT_HINT})`,
      );
    }
    return parseMqttService(body);
  }
  throw new SupervisorApiError(`${last}; gave up after ${attempts} attempts`);
}
