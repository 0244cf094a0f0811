/**
 * `kinegraph plugin init <name>`: writes a new plugin package that builds, has one working node (on the
 * device, through an ONNX graph) and a real test, and is discovered as soon as it is built.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { KinegraphError } from '../util/errors.js';

/** npm scope (optional) and a lowercase kebab name that is also a valid node-type namespace. */
const NAME_PATTERN = /^(?:@([a-z0-9][a-z0-9._-]*)\/)?([a-z0-9][a-z0-9-]*)$/;

/** Versions the scaffold's dev tooling is pinned to: the ones Kinegraph itself is built and tested with. */
export const SCAFFOLD_TOOLING = {
  tsup: '8.5.1',
  typescript: '5.9.3',
  vitest: '4.1.12',
  '@types/node': '^20.19.0',
} as const;

/** A checked plugin name and what is derived from it. */
export interface PluginName {
  /** The npm package name, as given (`kinegraph-glow` or `@acme/kinegraph-glow`). */
  readonly packageName: string;
  /** The folder name: the name without its scope. */
  readonly folder: string;
  /** Namespace of the node types: the folder name (`glow/brightness` for `glow`). */
  readonly namespace: string;
}

/**
 * Checks a plugin name: lowercase letters, digits and dashes, starting with a letter or digit, at most
 * 214 characters (npm's limit), optionally scoped. Throws `PLUGIN_NAME_INVALID` with a hint otherwise.
 */
export function parsePluginName(name: string): PluginName {
  const match = NAME_PATTERN.exec(name);
  if (!match || name.length > 214 || match[2]!.endsWith('-')) {
    throw new KinegraphError('PLUGIN_NAME_INVALID', `"${name}" is not a valid plugin name.`, {
      hint: 'Use lowercase letters, digits and dashes, starting with a letter or digit (e.g. "glow" or "@acme/kinegraph-glow"); it becomes the npm package name and the node-type namespace.',
    });
  }
  const folder = match[2]!;
  return { packageName: name, folder, namespace: folder };
}

/** What {@link initPlugin} wrote. */
export interface PluginInitResult {
  /** Absolute folder of the new package. */
  readonly dir: string;
  /** Paths written, relative to `dir`. */
  readonly files: readonly string[];
  /** The node type of the example node. */
  readonly nodeType: string;
}

/** Options of {@link initPlugin}. */
export interface PluginInitOptions {
  /** Package name, checked by {@link parsePluginName}. */
  readonly name: string;
  /** Folder the package folder is created in (default `plugins`, relative to `cwd`). */
  readonly dir?: string;
  readonly cwd: string;
  /** The running `@kinegraph/core` version: the peer dependency is `^` this. */
  readonly coreVersion: string;
}

/**
 * Writes a plugin package into `<dir>/<folder>`. Refuses (`PLUGIN_DIR_EXISTS`) when that path exists,
 * so nothing of the user's is ever overwritten.
 */
export async function initPlugin(options: PluginInitOptions): Promise<PluginInitResult> {
  const name = parsePluginName(options.name);
  const dir = resolve(options.cwd, options.dir ?? 'plugins', name.folder);
  if (await exists(dir)) {
    throw new KinegraphError('PLUGIN_DIR_EXISTS', `${dir} already exists; plugin init never overwrites.`, {
      hint: 'Pick another name, or --dir <folder> to create it elsewhere.',
    });
  }
  const files = pluginTemplates(name, options.coreVersion);
  // mkdir without `recursive` on the package folder itself: if another process creates it meanwhile, fail.
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(dir);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text, { flag: 'wx' });
  }
  return { dir, files: Object.keys(files), nodeType: `${name.namespace}/brightness` };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `kinegraph plugin <subcommand>` from the raw arguments after `plugin`: only `init <name> [--dir d]`
 * for now. Parses its own flags because `--dir` takes a value that the shared parser does not know.
 * Resolves to the exit code: 0 done, 1 bad usage or refused.
 */
export async function pluginCommand(
  argv: readonly string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; cwd: string },
  coreVersion: string,
): Promise<number> {
  const usage = 'Usage: kinegraph plugin init <name> [--dir <folder>]   (default folder: plugins)';
  const positionals: string[] = [];
  let dir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--dir') {
      dir = argv[++i];
      if (dir === undefined || dir.startsWith('-')) {
        io.stderr.write(`--dir needs a folder.\n${usage}\n`);
        return 1;
      }
    } else if (arg.startsWith('--dir=')) dir = arg.slice('--dir='.length);
    else if (arg === '--help' || arg === '-h') {
      io.stdout.write(`${usage}\n`);
      return 0;
    } else if (arg.startsWith('-')) {
      io.stderr.write(`Unknown option ${arg}.\n${usage}\n`);
      return 1;
    } else positionals.push(arg);
  }
  const [sub, name, ...rest] = positionals;
  if (sub !== 'init' || !name || rest.length || dir === '') {
    io.stderr.write(`${sub && sub !== 'init' ? `Unknown plugin command "${sub}".\n` : ''}${usage}\n`);
    return 1;
  }
  try {
    const result = await initPlugin({ name, ...(dir !== undefined ? { dir } : {}), cwd: io.cwd, coreVersion });
    const where = relative(io.cwd, result.dir) || '.';
    io.stdout.write(`Created ${where}: the plugin ${name} with one node, ${result.nodeType}.\n`);
    for (const file of result.files) io.stdout.write(`  ${join(where, file)}\n`);
    io.stdout.write(
      `\nNext:\n  cd ${where}\n  npm install          # in an npm-workspaces repo that lists this folder, run it at the root instead\n  npm run build        # dist/index.js, which Kinegraph loads\n  npm test             # the node's test, through a real Runtime\n  npx kinegraph plugins   # from the project folder: lists ${name}\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof KinegraphError)) throw error;
    io.stderr.write(`${error.code}: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}\n`);
    return 1;
  }
}

/** The files of a new plugin package, by path relative to its folder. */
export function pluginTemplates(name: PluginName, coreVersion: string): Record<string, string> {
  const type = `${name.namespace}/brightness`;
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    'package.json': json({
      name: name.packageName,
      version: '0.1.0',
      description: `A Kinegraph plugin: ${type} and whatever you add next.`,
      license: 'Apache-2.0',
      type: 'module',
      engines: { node: '>=20' },
      main: './dist/index.js',
      types: './dist/index.d.ts',
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './package.json': './package.json' },
      files: ['dist'],
      keywords: ['kinegraph', 'kinegraph-plugin'],
      // What makes it a plugin: Kinegraph loads these entries from any installed package with this key.
      kinegraph: { apiVersion: 1, plugins: ['dist/index.js'] },
      scripts: {
        build: 'tsup',
        test: 'vitest run',
        typecheck: 'tsc --noEmit',
        prepublishOnly: 'npm run build && npm test',
      },
      peerDependencies: { '@kinegraph/core': `^${coreVersion}` },
      devDependencies: { '@kinegraph/core': `^${coreVersion}`, ...SCAFFOLD_TOOLING },
    }),
    'tsconfig.json': json({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        declaration: true,
        isolatedModules: true,
        verbatimModuleSyntax: true,
        types: ['node'],
        outDir: 'dist',
        rootDir: 'src',
      },
      include: ['src'],
    }),
    'tsup.config.ts': `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: true,
  sourcemap: true,
  clean: true,
  // Use the host's @kinegraph/core, never a bundled copy: a second copy would be a second SDK.
  external: ['@kinegraph/core', '@kinegraph/core/sdk'],
});
`,
    '.gitignore': 'node_modules/\ndist/\n',
    'src/index.ts': `/**
 * ${name.packageName}: a Kinegraph plugin. Kinegraph finds it by the \`kinegraph\` key of package.json
 * and loads dist/index.js.
 * @packageDocumentation
 */
import { definePlugin } from '@kinegraph/core/sdk';
import { brightnessNode } from './brightness.node.js';

export { brightnessNode, brightnessGraph } from './brightness.node.js';

/** The plugin: every node type it adds. */
export default definePlugin(() => ({
  name: '${name.packageName}',
  version: '0.1.0',
  nodes: [brightnessNode],
}));
`,
    'src/brightness.node.ts': `import { KinegraphError, Type, buildGraph, defineNode } from '@kinegraph/core/sdk';
import type { BuiltGraph } from '@kinegraph/core/sdk';

let graph: BuiltGraph | undefined;

/**
 * The node's math as a small ONNX graph, so it runs in the inference worker on the run's device and the
 * video never comes back into JS. \`amount\` is a graph input, not a constant: one session serves all values.
 */
export function brightnessGraph(): BuiltGraph {
  graph ??= buildGraph('${type}', (g) => {
    const video = g.input('video', 'float32', ['B', 3, 'F', 'H', 'W']);
    const amount = g.input('amount', 'float32', []);
    // Videos are in [-1, 1]: an amount in [0, 1] units is twice that, and the result stays in range.
    g.output('brightened', g.clip(g.add(video, g.mul(amount, 2)), -1, 1));
  });
  return graph;
}

/** **Brightness** (\`${type}\`): makes a video brighter (or darker, with a negative amount). */
export const brightnessNode = defineNode({
  type: '${type}',
  version: 1,
  title: 'Brightness',
  category: 'color',
  description: 'Adds a constant to every pixel of a video, on the device.',
  params: Type.Object({
    amount: Type.Number({ default: 0.1, minimum: -1, maximum: 1, description: 'How much brighter: 1 turns everything white, -1 black.' }),
  }),
  inputs: { video: { type: 'video' } },
  outputs: { video: { type: 'video' } },
  async run({ params, inputs, context }) {
    const { tensor, fps } = inputs.video;
    if (tensor.dims.length !== 5 || tensor.dims[1] !== 3) {
      throw new KinegraphError('INVALID_INPUT', 'Brightness needs an RGB video [B, 3, F, H, W]; got [' + tensor.dims.join(', ') + '].', {
        nodeId: context.nodeId,
        hint: 'Connect a video output.',
      });
    }
    const model = await context.tensors.loadModel(brightnessGraph().bytes);
    const amount = await context.tensors.upload(Float32Array.of(params.amount), []);
    try {
      const out = await context.tensors.run(model, { video: tensor, amount }, ['brightened'], context.signal);
      context.progress(1);
      return { video: { kind: 'video' as const, tensor: out['brightened']!, fps } };
    } finally {
      // Handles a node makes and does not return are freed after run anyway; releasing early keeps peaks low.
      context.tensors.release(amount);
    }
  },
});
`,
    'src/brightness.test.ts': `// The node through a real Runtime: a test source uploads a video, the node runs, a capture node reads
// the result back, and the numbers are compared with the same math in plain JS.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Runtime } from '@kinegraph/core';
import { Type, defineNode } from '@kinegraph/core/sdk';
import plugin from './index.js';

const dims = [1, 3, 2, 4, 4] as const;
const input = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i) * 0.9);
let result: Float32Array | undefined;

const source = defineNode({
  type: 'test/source', version: 1, title: 'Source', category: 'test', description: 'A fixed test video.',
  params: Type.Object({}), inputs: {}, outputs: { video: { type: 'video' } },
  async run({ context }) {
    return { video: { kind: 'video' as const, tensor: await context.tensors.upload(input, dims), fps: 8 } };
  },
});
const capture = defineNode({
  type: 'test/capture', version: 1, title: 'Capture', category: 'test', description: 'Reads a video into the test.',
  params: Type.Object({}), inputs: { video: { type: 'video' } }, outputs: {}, cache: false,
  async run({ inputs, context }) {
    result = (await context.tensors.read(inputs.video.tensor)) as Float32Array;
    return {};
  },
});

let runtime: Runtime;
let out: string;
beforeAll(async () => {
  // discover: false: only the plugin under test and the test nodes. threads: 1 keeps CI machines calm.
  runtime = await Runtime.create({ plugins: [await plugin(), { name: 'test', nodes: [source, capture] }], discover: false, threads: 1 });
  out = await mkdtemp(join(tmpdir(), 'plugin-test-'));
});
afterAll(async () => {
  await runtime?.close();
  if (out) await rm(out, { recursive: true, force: true });
});

function run(amount: number): Promise<{ type: string; error?: unknown }> {
  const nodes = {
    src: { type: 'test/source', version: 1 },
    fx: { type: '${type}', version: 1, params: { amount }, inputs: { video: { node: 'src', output: 'video' } } },
    cap: { type: 'test/capture', version: 1, inputs: { video: { node: 'fx', output: 'video' } } },
  };
  return new Promise((resolve, reject) => {
    let last: { type: string; error?: unknown } = { type: 'none' };
    runtime.run({ format: 'kinegraph/workflow@1', nodes }, { outputFolder: out, allowedFolders: [] }).subscribe({
      next: (event) => (last = event),
      error: reject,
      complete: () => resolve(last),
    });
  });
}

it.each([0.25, -0.5])('adds %f (in 0..1 units) to every pixel, clipped to the video range', async (amount) => {
  expect(await run(amount)).toMatchObject({ type: 'run:done' });
  expect(result).toHaveLength(input.length);
  input.forEach((v, i) => expect(result![i]).toBeCloseTo(Math.min(1, Math.max(-1, v + 2 * amount)), 5));
});

it('rejects an amount out of range before running', () => {
  const checked = runtime.validate({ format: 'kinegraph/workflow@1', nodes: { fx: { type: '${type}', version: 1, params: { amount: 2 } } } });
  expect(checked.ok).toBe(false);
});

it('frees every tensor it made', async () => {
  runtime.cache.clear();
  expect((await runtime.store()).stats().liveTensors).toBe(0);
});
`,
    'README.md': `# ${name.packageName}

A [Kinegraph](https://github.com/kinegraph/kinegraph) plugin.

| node | what it does |
| --- | --- |
| \`${type}\` | Adds a constant to every pixel of a video, on the device (an ONNX graph). |

## Use

\`\`\`sh
npm install ${name.packageName}   # next to @kinegraph/core
npx kinegraph plugins             # lists ${name.packageName}
\`\`\`

Or drop the built folder into a project's \`plugins/\` folder.

## Develop

\`\`\`sh
npm install
npm run build   # dist/index.js: what Kinegraph loads (the "kinegraph" key of package.json)
npm test        # runs the node through a real Runtime
\`\`\`

Publish with \`npm publish\` (\`prepublishOnly\` builds and tests first). Keep \`@kinegraph/core\` a peer
dependency: the host's copy of core must be the one the plugin uses.
`,
  };
}
