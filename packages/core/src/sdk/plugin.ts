import type { AnyNodeDefinition } from './node.js';
import type { PortTypeDefinition } from './port-types.js';

/** The SDK API version plugins declare in package.json (`"kinegraph": { "apiVersion": 1 }`). */
export const PLUGIN_API_VERSION = 1;

/**
 * A plugin: a plain object (like a Vite plugin) naming the node and port types it adds.
 * Falsy entries in `nodes` are ignored so presets can use conditionals.
 */
export interface KinegraphPlugin {
  /** Unique name, usually the npm package name. */
  readonly name: string;
  readonly version?: string;
  readonly portTypes?: readonly PortTypeDefinition[];
  readonly nodes?: readonly (AnyNodeDefinition | false | null | undefined)[];
  /**
   * Subgraph blueprints the plugin ships: `kinegraph/blueprint@1` documents (see the workflow schema),
   * checked when the plugin registers. Files listed in its package.json under `kinegraph.blueprints` are
   * added to these when the plugin is discovered.
   */
  readonly blueprints?: readonly object[];
  /**
   * For plugins whose nodes embed the workflow in the files they write: how to find that text again in
   * such a file. Hosts read embedded workflows through `Runtime.readEmbeddedWorkflow`, which asks every
   * registered reader, so they need not import the node library that wrote the file.
   */
  readonly workflowReaders?: readonly WorkflowTextReader[];
}

/** What a {@link WorkflowTextReader} found in a file's metadata. */
export interface EmbeddedTexts {
  /** Candidate texts, in file order (comments may come from other tools too). */
  readonly texts: readonly string[];
  /**
   * True when the texts come from a tag that only Kinegraph writes (the PNG `kinegraph-workflow` keyword):
   * then a text that is not a workflow is a damaged embed (`EMBEDDED_WORKFLOW_INVALID`), not someone
   * else's comment.
   */
  readonly ownTag: boolean;
}

/**
 * Finds the texts that may hold an embedded workflow in one kind of file. Returns `undefined` for bytes it
 * does not recognise, so the next reader can try. Must not decode pictures: hosts call it on uploads.
 */
export interface WorkflowTextReader {
  /** The container(s) it reads, for messages (`PNG`, `GIF`, `MP4`, `WebM`). */
  readonly name: string;
  read(bytes: Uint8Array): EmbeddedTexts | undefined;
}

/** What a plugin package exports: a factory (preferred) or the plugin object itself. */
export type PluginFactory<Options = void> = (options: Options) => KinegraphPlugin | Promise<KinegraphPlugin>;

/** Declares a plugin factory. Identity helper that types the returned object. */
export function definePlugin<Options = void>(factory: PluginFactory<Options>): PluginFactory<Options> {
  return factory;
}
