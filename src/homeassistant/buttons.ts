import { isValidCommandName, RESTART_COMMAND, RESTART_UPSD_COMMAND } from '../api/commands.js';
import type { UpsSnapshot } from '../supervisor/types.js';
import { buildEntity, type EntityOwner } from './entity.js';
import type { DiscoveryMessage } from './types.js';

// Names for common instant commands (descriptions after NUT's data/cmdvartab); others show their NUT name.
const INSTCMD_NAMES: Readonly<Record<string, string>> = {
  'beeper.enable': 'Enable beeper',
  'beeper.disable': 'Disable beeper',
  'beeper.mute': 'Mute beeper',
  'beeper.toggle': 'Toggle beeper',
  'test.battery.start': 'Start battery test',
  'test.battery.start.quick': 'Start quick battery test',
  'test.battery.start.deep': 'Start deep battery test',
  'test.battery.stop': 'Stop battery test',
  'test.panel.start': 'Start panel test',
  'test.panel.stop': 'Stop panel test',
  'calibrate.start': 'Start runtime calibration',
  'calibrate.stop': 'Stop runtime calibration',
  'load.off': 'Turn off load',
  'load.on': 'Turn on load',
  'load.off.delay': 'Turn off load with delay',
  'load.on.delay': 'Turn on load with delay',
  'shutdown.return': 'Shut down and return',
  'shutdown.stayoff': 'Shut down and stay off',
  'shutdown.stop': 'Stop shutdown',
  'shutdown.reboot': 'Reboot',
  'bypass.start': 'Start bypass',
  'bypass.stop': 'Stop bypass',
  'reset.input.minmax': 'Reset input min/max',
};

function instcmdName(command: string): string {
  return INSTCMD_NAMES[command] ?? command;
}

/** Object id of an instant command's button: dots become `_`; valid names have no `_`, so this is one-to-one. */
export function instcmdObjectId(command: string): string {
  return `instcmd_${command.replaceAll('.', '_')}`;
}

/**
 * The restart-driver button (usable while the UPS is stale, so bridge availability only), and one button per
 * instant command that is both allowed by the agent's configuration and listed by this UPS.
 */
export function upsButtonEntities(owner: EntityOwner, snapshot: UpsSnapshot): DiscoveryMessage[] {
  const messages = [
    buildEntity(owner, {
      component: 'button',
      objectId: 'restart_driver',
      name: 'Restart driver',
      availability: 'bridge',
      fields: {
        device_class: 'restart',
        entity_category: 'config',
        command_topic: owner.commandTopic,
        payload_press: RESTART_COMMAND,
      },
    }),
  ];
  const allowed = new Set(owner.ctx.allowedInstcmds);
  // `restart` on the command topic means the driver restart, so an instant command of that name cannot be sent.
  const commands = [...new Set(snapshot.commands)]
    .filter((command) => allowed.has(command) && command !== RESTART_COMMAND && isValidCommandName(command))
    .sort();
  for (const command of commands) {
    messages.push(
      buildEntity(owner, {
        component: 'button',
        objectId: instcmdObjectId(command),
        name: instcmdName(command),
        availability: 'device',
        fields: { icon: 'mdi:console-line', command_topic: owner.commandTopic, payload_press: command },
      }),
    );
  }
  return messages;
}

/** The agent's restart-upsd button. */
export function bridgeButtonEntities(owner: EntityOwner): DiscoveryMessage[] {
  return [
    buildEntity(owner, {
      component: 'button',
      objectId: 'restart_upsd',
      name: 'Restart upsd',
      availability: 'device',
      fields: {
        device_class: 'restart',
        entity_category: 'config',
        command_topic: owner.commandTopic,
        payload_press: RESTART_UPSD_COMMAND,
      },
    }),
  ];
}
