// `kinegraph plugin init`: name checks and never overwriting (in-process), then the whole promise end to
// end with the built CLI in a fresh project folder: the scaffold builds, `kinegraph plugins` lists it, and
// its own test passes.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLUGIN_API_VERSION } from '../sdk/plugin.js';
import { findTemplate, initPlugin, parsePluginName, pluginCommand, TEMPLATE_NAMES } from './plugin-init.js';

const bin = fileURLToPath(new URL('../../bin/kinegraph.js', import.meta.url));
const coreDir = fileURLToPath(new URL('../..', import.meta.url));
const rootDir = fileURLToPath(new URL('../../../..', import.meta.url));
const require = createRequire(import.meta.url);
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kg-plugin-init-'));
});
afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function exec(
  file: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', CI: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A writable that collects text, standing in for stdout/stderr. */
function sink(): NodeJS.WritableStream & { text: string } {
  const s = {
    text: '',
    write: (chunk: string) => {
      s.text += chunk;
      return true;
    },
  };
  return s as unknown as NodeJS.WritableStream & { text: string };
}

describe('plugin names', () => {
  it('accepts lowercase kebab names, scoped or not, and derives the folder and node namespace', () => {
    expect(parsePluginName('glow')).toEqual({ packageName: 'glow', folder: 'glow', namespace: 'glow' });
    expect(parsePluginName('@acme/kinegraph-glow-2')).toEqual({
      packageName: '@acme/kinegraph-glow-2',
      folder: 'kinegraph-glow-2',
      namespace: 'kinegraph-glow-2',
    });
  });

  it.each(['Glow', 'my_plugin', '-glow', 'glow-', 'a/b', '@acme/', '../escape', 'gl ow', '', 'x'.repeat(215)])(
    'rejects %j with PLUGIN_NAME_INVALID',
    (name) => {
      expect(() => parsePluginName(name)).toThrow(expect.objectContaining({ code: 'PLUGIN_NAME_INVALID' }));
    },
  );
});

describe('initPlugin', () => {
  it('writes the package into <dir>/<name> and refuses to touch an existing folder', async () => {
    const cwd = join(scratch, 'unit');
    const result = await initPlugin({ name: 'demo', cwd, coreVersion: '1.2.3' });
    expect(result.dir).toBe(join(cwd, 'plugins', 'demo'));
    expect([...result.files].sort()).toEqual([
      '.gitignore',
      'README.md',
      'package.json',
      'src/brightness.node.ts',
      'src/brightness.test.ts',
      'src/index.ts',
      'tsconfig.json',
      'tsup.config.ts',
    ]);
    const pkg = JSON.parse(await readFile(join(result.dir, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, unknown>
    >;
    expect(pkg.kinegraph).toEqual({ apiVersion: 1, plugins: ['dist/index.js'] });
    expect(pkg.peerDependencies).toEqual({ '@kinegraph/core': '^1.2.3' });
    expect(pkg.type).toBe('module');

    expect(pkg.devDependencies).toMatchObject({ '@kinegraph/core': '^1.2.3' });
    expect(pkg.name).toBe('demo');
    // Every mention of the template's names is the new plugin's now, and the node type is in its namespace.
    for (const file of result.files) {
      const text = await readFile(join(result.dir, file), 'utf8');
      expect(text, file).not.toContain(TEMPLATE_NAMES.namespace);
    }
    expect(await readFile(join(result.dir, 'src', 'brightness.node.ts'), 'utf8')).toContain("type: 'demo/brightness'");
    expect(await readFile(join(result.dir, 'src', 'index.ts'), 'utf8')).toContain("name: 'demo'");
    expect(await readFile(join(result.dir, '.gitignore'), 'utf8')).toBe('node_modules/\ndist/\n');

    await writeFile(join(result.dir, 'src', 'index.ts'), '// mine');
    await expect(initPlugin({ name: 'demo', cwd, coreVersion: '1.2.3' })).rejects.toMatchObject({
      code: 'PLUGIN_DIR_EXISTS',
    });
    expect(await readFile(join(result.dir, 'src', 'index.ts'), 'utf8')).toBe('// mine');
  });

  it('substitutes a name that contains the template names once, and scoped names by package and namespace', async () => {
    const cwd = join(scratch, 'names');
    const odd = await initPlugin({ name: '@acme/plugin-template-x', cwd, coreVersion: '0.1.0' });
    const pkg = JSON.parse(await readFile(join(odd.dir, 'package.json'), 'utf8')) as { name: string };
    expect(pkg.name).toBe('@acme/plugin-template-x');
    const node = await readFile(join(odd.dir, 'src', 'brightness.node.ts'), 'utf8');
    expect(node).toContain("type: 'plugin-template-x/brightness'");
    const readme = await readFile(join(odd.dir, 'README.md'), 'utf8');
    expect(readme).toContain('npm install @acme/plugin-template-x ');
    expect(readme).toContain('`plugin-template-x/brightness`');
  });

  it('leaves nothing behind when the template cannot be read', async () => {
    const cwd = join(scratch, 'broken');
    await expect(
      initPlugin({ name: 'demo', cwd, coreVersion: '0.1.0', templateDir: join(scratch, 'no-template') }),
    ).rejects.toMatchObject({ code: 'PLUGIN_TEMPLATE_MISSING' });
    expect(existsSync(join(cwd, 'plugins', 'demo'))).toBe(false);
  });

  it('ships a template whose tooling is what Kinegraph builds with, for this plugin API version', async () => {
    const template = JSON.parse(await readFile(join(findTemplate(), 'package.json'), 'utf8')) as {
      name: string;
      devDependencies: Record<string, string>;
      kinegraph: { apiVersion: number };
    };
    const root = JSON.parse(await readFile(join(rootDir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    expect(template.name).toBe(TEMPLATE_NAMES.packageName);
    expect(template.kinegraph.apiVersion).toBe(PLUGIN_API_VERSION);
    for (const tool of ['tsup', 'typescript', 'vitest', '@types/node'])
      expect(template.devDependencies[tool], tool).toBe(root.devDependencies[tool]);
    const core = JSON.parse(await readFile(join(coreDir, 'package.json'), 'utf8')) as { files: string[] };
    expect(core.files).toContain('templates');
  });

  it('as a command: --dir, usage errors and refusals exit 1 with a hint', async () => {
    const cwd = join(scratch, 'cmd');
    const out = sink();
    const err = sink();
    expect(
      await pluginCommand(['init', '@acme/fx', '--dir', 'extensions'], { stdout: out, stderr: err, cwd }, '0.1.0'),
    ).toBe(0);
    expect(existsSync(join(cwd, 'extensions', 'fx', 'src', 'brightness.node.ts'))).toBe(true);
    expect(out.text).toContain('fx/brightness');
    expect(
      await pluginCommand(['init', '@acme/fx', '--dir=extensions'], { stdout: out, stderr: err, cwd }, '0.1.0'),
    ).toBe(1);
    expect(err.text).toContain('PLUGIN_DIR_EXISTS');
    expect(await pluginCommand(['init', 'Bad_Name'], { stdout: out, stderr: err, cwd }, '0.1.0')).toBe(1);
    expect(err.text).toContain('hint: Use lowercase letters');
    expect(await pluginCommand(['init'], { stdout: out, stderr: err, cwd }, '0.1.0')).toBe(1);
    expect(await pluginCommand(['init', 'lost', '--dir'], { stdout: out, stderr: err, cwd }, '0.1.0')).toBe(1);
    expect(err.text).toContain('--dir needs a folder');
    expect(await pluginCommand(['create', 'x'], { stdout: out, stderr: err, cwd }, '0.1.0')).toBe(1);
    expect(err.text).toContain('Unknown plugin command "create"');
    expect(await readdir(cwd)).toEqual(['extensions']);
  });
});

describe('kinegraph plugin init, end to end', () => {
  it('makes a package that builds, is listed by `kinegraph plugins`, and passes its own test', async () => {
    if (!existsSync(join(coreDir, 'dist', 'cli.js')))
      throw new Error('Run `npm run build -w @kinegraph/core` first (npm test does).');
    // A user's project: @kinegraph/core and the dev tools installed, nothing else. Symlinks stand in for
    // `npm install` (offline, instant); Node resolves through them to the real packages.
    const project = join(scratch, 'project');
    const modules = join(project, 'node_modules');
    await mkdir(join(modules, '@kinegraph'), { recursive: true });
    await mkdir(join(modules, '@types'), { recursive: true });
    await symlink(coreDir, join(modules, '@kinegraph', 'core'), 'dir');
    for (const tool of ['tsup', 'typescript', 'vitest', '@types/node'])
      await symlink(dirname(require.resolve(`${tool}/package.json`)), join(modules, tool), 'dir');

    const init = await exec(bin, ['plugin', 'init', 'glow'], project);
    expect(init.code, init.stderr).toBe(0);
    const dir = join(project, 'plugins', 'glow');

    // Build (tsup, with .d.ts), type-check everything (the test too) and run the scaffold's own test.
    const [build, typecheck, test] = await Promise.all([
      exec(join(modules, 'tsup', 'dist', 'cli-default.js'), [], dir),
      exec(join(modules, 'typescript', 'bin', 'tsc'), ['--noEmit'], dir),
      exec(join(modules, 'vitest', 'vitest.mjs'), ['run'], dir),
    ]);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect(typecheck.code, typecheck.stdout + typecheck.stderr).toBe(0);
    expect(existsSync(join(dir, 'dist', 'index.js')) && existsSync(join(dir, 'dist', 'index.d.ts'))).toBe(true);
    expect(test.code, test.stdout + test.stderr).toBe(0);
    expect(test.stdout).toMatch(/Tests\s+4 passed/);

    const listed = await exec(bin, ['plugins', '--json'], project);
    expect(listed.code, listed.stderr).toBe(0);
    const report = JSON.parse(listed.stdout) as {
      loaded: Array<{ name: string; nodeTypes: string[]; origin: string }>;
      failed: unknown[];
    };
    expect(report.failed).toEqual([]);
    expect(report.loaded).toEqual([
      expect.objectContaining({ name: 'glow', nodeTypes: ['glow/brightness'], origin: 'plugins-folder' }),
    ]);
  });
});
