import { execa } from 'execa';
import { NutVersion } from './nutVersion.js';

export type UpsdVersionResult =
  | { ok: true; version: NutVersion; output: string }
  | { ok: false; reason: string };

const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Asks the upsd binary the agent is about to run for its version (`upsd -V`: prints "Network UPS Tools upsd 2.8.0"
 * and exits 0 without reading any configuration). Run before the drivers start, because the driver probes need the
 * version from their first connection on; upsd's VER would only answer once upsd is up. The drivers are assumed to
 * come from the same NUT installation. Never throws.
 */
export async function readUpsdVersion(
  upsdPath: string,
  env: Readonly<Record<string, string>>,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<UpsdVersionResult> {
  try {
    const result = await execa(upsdPath, ['-V'], {
      env,
      extendEnv: false,
      stdin: 'ignore',
      reject: false,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024,
    });
    const output = `${String(result.stdout ?? '')}\n${String(result.stderr ?? '')}`.trim();
    const version = NutVersion.parse(output);
    if (version) return { ok: true, version, output: output.split('\n')[0] ?? output };
    const why = result.timedOut
      ? `timed out after ${timeoutMs} ms`
      : result.failed && result.exitCode === undefined
        ? (result.shortMessage ?? 'could not run')
        : `no version in its output ${JSON.stringify(output.slice(0, 200))}`;
    return { ok: false, reason: `${upsdPath} -V: ${why}` };
  } catch (error) {
    return { ok: false, reason: `${upsdPath} -V: ${(error as Error).message}` };
  }
}
