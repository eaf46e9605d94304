import { BRIDGE_LEVEL } from '../api/topics.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import type { DiscoveryContext, HaDevice } from './types.js';

/**
 * Every device identifier and unique_id of an agent starts with `nut-mqtt/<base>/`; then comes a UPS name (which
 * cannot contain `/`) or `bridge` (which cannot be a UPS name), then for an entity `/<object id>`. So distinct
 * (base, device, entity) triples always give distinct ids, whatever the base topic looks like.
 */
export function ownIdPrefix(baseTopic: string): string {
  return `nut-mqtt/${baseTopic}/`;
}

/** The agent's device identifier: `nut-mqtt/<base>/bridge`. Stable across restarts; the UPS devices hang off it. */
export function bridgeDeviceId(baseTopic: string): string {
  return `${ownIdPrefix(baseTopic)}${BRIDGE_LEVEL}`;
}

/** A UPS's device identifier: `nut-mqtt/<base>/<ups>`. Stable across restarts (no pid, no serial, no time). */
export function upsDeviceId(baseTopic: string, ups: string): string {
  return `${ownIdPrefix(baseTopic)}${ups}`;
}

/** The variables whose values (not only presence) shape a UPS's device entry. */
export const DEVICE_VARIABLES = [
  'device.mfr',
  'ups.mfr',
  'device.model',
  'ups.model',
  'device.serial',
  'ups.serial',
  'ups.firmware',
] as const;

/**
 * The UPS as a Home Assistant device. Named by `desc` from ups.conf when set, else by the UPS name.
 * Manufacturer, model and serial come from `device.*`, falling back to the older `ups.*` names (drivers differ
 * in which they fill). NUT pads some values with blanks; empty values are left out.
 */
export function upsDevice(snapshot: UpsSnapshot, ctx: DiscoveryContext): HaDevice {
  const pick = (...names: string[]) => {
    for (const name of names) {
      const value = snapshot.vars[name]?.trim();
      if (value) return value;
    }
    return undefined;
  };
  const device: HaDevice = {
    identifiers: [upsDeviceId(ctx.baseTopic, snapshot.name)],
    name: snapshot.description?.trim() || snapshot.name,
  };
  const [mfr1, mfr2, model1, model2, serial1, serial2, firmware1] = DEVICE_VARIABLES;
  const manufacturer = pick(mfr1, mfr2);
  const model = pick(model1, model2);
  const serial = pick(serial1, serial2);
  const firmware = pick(firmware1);
  if (manufacturer) device.manufacturer = manufacturer;
  if (model) device.model = model;
  if (serial) device.serial_number = serial;
  if (firmware) device.sw_version = firmware;
  device.via_device = bridgeDeviceId(ctx.baseTopic);
  return device;
}

/** The agent itself as a device, parent (`via_device`) of every UPS it serves. */
export function bridgeDevice(ctx: DiscoveryContext): HaDevice {
  return {
    identifiers: [bridgeDeviceId(ctx.baseTopic)],
    name: ctx.agentId,
    manufacturer: 'nut-mqtt',
    model: 'NUT supervisor and MQTT bridge',
    sw_version: ctx.agentVersion,
  };
}
