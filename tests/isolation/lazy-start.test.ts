// Plugin processes start lazily: an unchanged plugin is described from the cache (no process at all when
// Kinegraph starts), its process starts when a run uses it, and an edited plugin is described afresh.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunEvent, Runtime } from '../../packages/core/src/index.js';

let root: string;
let project: string;
let cache: string;
const previousCache = process.env.KINEGRAPH_CACHE;

/** A plugin that counts, in its own cache folder, how often its entry file is imported. */
function writePlugin(types: string[]): void {
  const dir = join(project, 'plugins', 'counter');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'counter-plugin',
      version: '1.0.0',
      type: 'module',
      kinegraph: { apiVersion: 1, plugins: ['index.js'] },
    }),
  );
  const node = (type: string) =>
    `{ type: '${type}', version: 1, title: 't', category: 'c', description: 'd', params: { type: 'object', properties: {} }, inputs: {}, outputs: { text: { type: 'text' } }, cache: false, run: () => ({ text: 'ran' }) }`;
  writeFileSync(
    join(dir, 'index.js'),
    [
      "import { appendFileSync, mkdirSync } from 'node:fs';",
      "import { join } from 'node:path';",
      'mkdirSync(process.env.KINEGRAPH_CACHE, { recursive: true });',
      "appendFileSync(join(process.env.KINEGRAPH_CACHE, 'imports.txt'), 'x');",
      `export default { name: 'counter-plugin', nodes: [${types.map(node).join(', ')}] };`,
    ].join('\n'),
  );
}

/** How often the plugin's entry has been imported in a plugin process so far. */
function imports(): number {
  const file = join(cache, 'plugins', 'counter-plugin', 'imports.txt');
  return existsSync(file) ? readFileSync(file, 'utf8').length : 0;
}

async function types(): Promise<string[]> {
  const runtime = await Runtime.create({ discover: { cwd: project } });
  try {
    return runtime.registry.types().filter((t) => t.startsWith('counter/'));
  } finally {
    await runtime.close();
  }
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kg-lazy-'));
  project = join(root, 'project');
  cache = join(root, 'cache');
  process.env.KINEGRAPH_CACHE = cache;
  writePlugin(['counter/a']);
});

afterAll(() => {
  if (previousCache === undefined) delete process.env.KINEGRAPH_CACHE;
  else process.env.KINEGRAPH_CACHE = previousCache;
});

describe('plugin processes', () => {
  it('describe a plugin once; later starts know its nodes without starting a process', async () => {
    expect(await types()).toEqual(['counter/a']);
    expect(imports()).toBe(1);
    expect(await types()).toEqual(['counter/a']);
    expect(imports()).toBe(1);
  });

  it('start when a run uses the plugin', async () => {
    const runtime = await Runtime.create({ discover: { cwd: project } });
    try {
      expect(imports()).toBe(1);
      const events: RunEvent[] = [];
      await new Promise<void>((resolve, reject) =>
        runtime
          .run(
            { format: 'kinegraph/workflow@1', nodes: { a: { type: 'counter/a', version: 1 } } },
            { outputFolder: join(root, 'out'), allowedFolders: [] },
          )
          .subscribe({ next: (e) => events.push(e), error: reject, complete: resolve }),
      );
      expect(events.at(-1)?.type).toBe('run:done');
      expect(imports()).toBe(2);
    } finally {
      await runtime.close();
    }
  });

  it('describe an edited plugin afresh', async () => {
    writePlugin(['counter/a', 'counter/b']);
    expect(await types()).toEqual(['counter/a', 'counter/b']);
    expect(imports()).toBe(3);
  });
});
