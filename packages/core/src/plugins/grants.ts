import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { KinegraphError } from '../util/errors.js';
import type { ProcessCapabilities } from './sandbox.js';

/** The file, in the project folder, where the user grants plugins more than the default. */
export const GRANTS_FILE = 'kinegraph.grants.json';

/** What the user grants one plugin package beyond the default sandbox. Everything is off by default. */
export const PluginGrantSchema = Type.Object(
  {
    isolate: Type.Optional(
      Type.Boolean({
        description:
          'false loads the plugin into the runtime itself, with all of your rights (for plugins you wrote). Default true.',
      }),
    ),
    read: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'More folders it may read (relative to this file), besides its package and the run\u2019s folders.',
      }),
    ),
    write: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: 'More folders it may write (relative to this file), besides the run\u2019s output folder.',
      }),
    ),
    childProcess: Type.Optional(
      Type.Boolean({
        description:
          'May start programs. They run outside the permission model, with your rights (only the network stays cut).',
      }),
    ),
    worker: Type.Optional(Type.Boolean({ description: 'May start worker threads (they keep the same limits).' })),
    addons: Type.Optional(
      Type.Boolean({ description: 'May load native addons (.node files): native code is outside every limit.' }),
    ),
    wasi: Type.Optional(Type.Boolean({ description: 'May use node:wasi.' })),
    network: Type.Optional(Type.Boolean({ description: 'May use the network (no network namespace).' })),
    env: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), {
        description: 'Environment variables it may see (by default it sees none of yours).',
      }),
    ),
  },
  { additionalProperties: false },
);

/** The grants file: grants by npm package name. */
export const GrantsFileSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    plugins: Type.Record(Type.String({ minLength: 1 }), PluginGrantSchema),
  },
  { additionalProperties: false },
);

export type PluginGrant = Static<typeof PluginGrantSchema>;

/** One plugin's grants with every default filled in and folders made absolute. */
export interface PluginGrants extends ProcessCapabilities {
  readonly isolate: boolean;
  readonly read: readonly string[];
  readonly write: readonly string[];
  /** Names of the environment variables it may see. */
  readonly env: readonly string[];
}

/** The default: isolated, nothing beyond its package and the run's folders. */
export const DEFAULT_GRANTS: PluginGrants = {
  isolate: true,
  read: [],
  write: [],
  childProcess: false,
  worker: false,
  addons: false,
  wasi: false,
  network: false,
  env: [],
};

/** The grants of every plugin, as read from the project's grants file. */
export class GrantsTable {
  constructor(
    private readonly byPackage: ReadonlyMap<string, PluginGrants>,
    /** The file they came from (undefined: there is none). */
    readonly file: string | undefined,
  ) {}

  /** The grants of a package (the default when the file does not name it). */
  for(pkg: string): PluginGrants {
    return this.byPackage.get(pkg) ?? DEFAULT_GRANTS;
  }

  /** Packages the file names, for reports of grants nobody uses. */
  packages(): string[] {
    return [...this.byPackage.keys()];
  }
}

/**
 * Reads the grants file (`kinegraph.grants.json` in the project folder unless `file` names another).
 * A missing file means default grants for everyone; a file that is not valid JSON or not of the schema
 * throws `GRANTS_INVALID` naming the problem, rather than running plugins with grants the user did not mean.
 */
export function loadGrants(projectDir: string, file?: string): GrantsTable {
  const path = resolve(projectDir, file ?? GRANTS_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT' && file === undefined)
      return new GrantsTable(new Map(), undefined);
    throw new KinegraphError(
      'GRANTS_INVALID',
      `Cannot read the plugin grants file ${path}: ${(error as Error).message}`,
      {
        hint: 'Check the path and its permissions.',
      },
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new KinegraphError('GRANTS_INVALID', `${path} is not valid JSON: ${(error as Error).message}`, {
      hint: 'Grants are a JSON document: { "plugins": { "<package>": { "childProcess": true } } }.',
    });
  }
  if (!Value.Check(GrantsFileSchema, data)) {
    const first = [...Value.Errors(GrantsFileSchema, data)][0];
    throw new KinegraphError(
      'GRANTS_INVALID',
      `${path}: ${first ? `${first.path || '/'} ${first.message}` : 'does not match the grants schema'}.`,
      {
        hint: `Each plugin takes isolate, read, write, childProcess, worker, addons, wasi, network and env (docs/plugins.md, "Isolation").`,
      },
    );
  }
  const base = dirname(path);
  const table = new Map<string, PluginGrants>();
  for (const [pkg, grant] of Object.entries(data.plugins)) {
    table.set(pkg, {
      isolate: grant.isolate ?? true,
      read: (grant.read ?? []).map((f) => resolve(base, f)),
      write: (grant.write ?? []).map((f) => resolve(base, f)),
      childProcess: grant.childProcess ?? false,
      worker: grant.worker ?? false,
      addons: grant.addons ?? false,
      wasi: grant.wasi ?? false,
      network: grant.network ?? false,
      env: grant.env ?? [],
    });
  }
  return new GrantsTable(table, path);
}

/** Where a project's grants file is (whether or not it exists). */
export function grantsFilePath(projectDir: string): string {
  return join(projectDir, GRANTS_FILE);
}
