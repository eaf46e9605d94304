// Reads a V8 .cpuprofile (node --cpu-prof) and sums self time per function and per code area, optionally only for
// samples inside a time window (offsets from the profile's start).
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Samples counted (inside the window) and the time they cover. */
  samples: number;
  totalMs: number;
  /** Share of samples that were idle (the event loop waiting): what is left is the agent's CPU. */
  idleShare: number;
  topFunctions: Array<{ name: string; where: string; selfMs: number; share: number }>;
  areas: Array<{ area: string; selfMs: number; share: number }>;
  /** The agent's own functions by inclusive time (self + everything they called): which part burns the CPU. */
  agentInclusive: Array<{ name: string; where: string; totalMs: number; share: number }>;
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** Where a frame's code lives: our module, a dependency, or Node itself. */
function areaOf(url: string, name: string): string {
  if (SPECIAL.has(name)) return name;
  if (url === '') return '(native / V8)';
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return `dep: ${dep[1]}`;
  const ours = /\/dist\/(.+)\.js$/.exec(url) ?? /\/src\/(.+)\.ts$/.exec(url);
  if (ours) return `agent: ${ours[1]}`;
  if (url.startsWith('node:')) return `node: ${url.slice(5).split('/')[0]}`;
  return url;
}

export function summarizeProfile(
  file: string,
  window?: { fromMs: number; toMs: number },
  top = 15,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let counted = 0;
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    const offsetMs = (t - profile.startTime) / 1000;
    if (window && (offsetMs < window.fromMs || offsetMs >= window.toMs)) return;
    counted++;
    totalUs += delta;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  });

  const frameKey = (node: ProfileNode): { key: string; name: string; where: string; url: string } => {
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    const short = url.replace(/^.*\/(node_modules|dist|src)\//, '$1/').replace(/^file:\/\//, '');
    const where = url ? `${short}:${lineNumber + 1}` : '';
    return { key: `${name} ${where}`, name, where, url };
  };
  // Inclusive time of the agent's functions: each sample counts once for every distinct one on its stack.
  const inclusive = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const f = frameKey(node);
      if (!/\/(dist|src)\//.test(f.url) || /node_modules/.test(f.url) || seen.has(f.key)) continue;
      seen.add(f.key);
      const entry = inclusive.get(f.key) ?? { name: f.name, where: f.where, us: 0 };
      entry.us += us;
      inclusive.set(f.key, entry);
    }
  }

  const fns = new Map<string, { name: string; where: string; us: number }>();
  const areas = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const { key, name, where, url } = frameKey(node);
    if (name === '(idle)') idleUs += us;
    const fn = fns.get(key) ?? { name, where, us: 0 };
    fn.us += us;
    fns.set(key, fn);
    const area = areaOf(url, name);
    areas.set(area, (areas.get(area) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  return {
    samples: counted,
    totalMs: totalUs / 1000,
    idleShare: totalUs > 0 ? idleUs / totalUs : 0,
    topFunctions: [...fns.values()]
      .filter((f) => f.name !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, selfMs: f.us / 1000, share: f.us / busyUs })),
    areas: [...areas]
      .filter(([area]) => area !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([area, us]) => ({ area, selfMs: us / 1000, share: us / busyUs })),
    agentInclusive: [...inclusive.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ name: f.name, where: f.where, totalMs: f.us / 1000, share: f.us / busyUs })),
  };
}
