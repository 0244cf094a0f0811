import type { PluginIsolation } from './discover.js';

/** How a plugin runs and what it may do, as the lines `kinegraph plugins` prints under it. */
export function describeIsolation(isolation: PluginIsolation): string[] {
  if (isolation.mode === 'in-process') return [`runs in-process, with all of your rights (${isolation.reason})`];
  const { grants, network, reads } = isolation;
  const dependencies = new Set(reads).size;
  const granted = [
    ...(grants.childProcess ? ['start programs (they run outside every limit but the network)'] : []),
    ...(grants.worker ? ['worker threads'] : []),
    ...(grants.addons ? ['native addons (outside every limit)'] : []),
    ...(grants.wasi ? ['WASI'] : []),
    ...(grants.network ? ['the network'] : []),
    ...grants.read.map((folder) => `read ${folder}`),
    ...grants.write.map((folder) => `write ${folder}`),
    ...(grants.env.length ? [`environment ${grants.env.join(', ')}`] : []),
  ];
  return [
    `runs isolated: reads its package and dependencies (${dependencies} folders) and the run's allowed folders; writes the run's output folder`,
    `network: ${network.blocked ? 'blocked' : 'OPEN'} (${network.how})`,
    `granted: ${granted.length ? granted.join('; ') : 'nothing more'}`,
  ];
}
