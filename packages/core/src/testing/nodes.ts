/**
 * The `source` and `capture` nodes: how a test feeds JS values into a real workflow and reads back what
 * reaches a point of it. A test writes markers (`source(...)`, `capture(...)`) among its workflow nodes;
 * the test runtime turns them into nodes of the types defined here, one pair per port type.
 */

import { Type } from '@sinclair/typebox';
import { defineNode } from '../sdk/node.js';
import type { KinegraphPlugin } from '../sdk/plugin.js';
import type { PortTypeDefinition, PortValue } from '../sdk/port-types.js';
import type { TestValue } from './values.js';
import { readValue, uploadValue } from './values.js';

const MARKER = Symbol.for('kinegraph.testing.node');

/** A `source` among a test's workflow nodes (see {@link source}). */
export interface SourceMarker {
  readonly [MARKER]: 'source';
  readonly portType: string;
  readonly value: unknown;
}

/** A `capture` among a test's workflow nodes (see {@link capture}). */
export interface CaptureMarker {
  readonly [MARKER]: 'capture';
  readonly node: string;
  readonly output: string;
}

/**
 * A node that feeds `value` into the workflow as a value of port type `portType`. Tensors are given as JS
 * data (`{ data, dims }`, see `TestValue`) and uploaded when the node runs. Its one output port is named
 * after the port type (`video`; `lut` for a plugin's `acme/lut`).
 *
 * ```ts
 * clip: source('video', { kind: 'video', tensor: { data, dims: [1, 3, 8, 32, 32] }, fps: 12 }),
 * grade: { type: 'acme/grade', version: 1, inputs: { video: { node: 'clip', output: 'video' } } },
 * ```
 *
 * Its params are a content hash of the value, so outputs downstream are cached (and reused) exactly as
 * they would be for a file that did not change.
 */
export function source<T extends string>(portType: T, value: TestValue<PortValue<T>>): SourceMarker {
  return Object.freeze({ [MARKER]: 'source' as const, portType, value });
}

/**
 * A node that records what reaches it from output `output` of node `node`, with every tensor read back into
 * JS. The test run's `captured(id)` and `tensor(id)` return it, by this node's id. Captures always run
 * (they are never served from the cache).
 */
export function capture(node: string, output: string): CaptureMarker {
  return Object.freeze({ [MARKER]: 'capture' as const, node, output });
}

export function isSourceMarker(value: unknown): value is SourceMarker {
  return typeof value === 'object' && value !== null && MARKER in value && value[MARKER] === 'source';
}

export function isCaptureMarker(value: unknown): value is CaptureMarker {
  return typeof value === 'object' && value !== null && MARKER in value && value[MARKER] === 'capture';
}

/** The output port of a source of `portType`: the last segment of its name. */
export function sourcePort(portType: string): string {
  return portType.slice(portType.lastIndexOf('/') + 1);
}

/** Where the test nodes find the values they feed and leave what they capture. */
export interface TestTables {
  /** Source values by content key. */
  readonly values: Map<string, unknown>;
  /** Per run token: captured values by capture node id. */
  readonly captures: Map<string, Map<string, { readonly portType: string; readonly value: unknown }>>;
}

/** The node types of one port type's source and capture. */
export interface TestNodeTypes {
  readonly source: string;
  readonly capture: string;
}

/**
 * A plugin with a source and a capture node type for each port type, reading from and writing to `tables`.
 * Returns it with the node types chosen for each port type.
 */
export function testNodesPlugin(
  portTypes: readonly PortTypeDefinition[],
  tables: TestTables,
): { plugin: KinegraphPlugin; types: Map<string, TestNodeTypes> } {
  const types = new Map<string, TestNodeTypes>();
  const used = new Set<string>();
  const nodes = portTypes.flatMap(({ name: portType }) => {
    let slug =
      portType
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-+|-+$/g, '') || 'port';
    while (used.has(slug)) slug = `${slug}-x`;
    used.add(slug);
    const names = { source: `testing/source-${slug}`, capture: `testing/capture-${slug}` };
    types.set(portType, names);
    const output = sourcePort(portType);
    return [
      defineNode({
        type: names.source,
        version: 1,
        title: `Test source (${portType})`,
        category: 'testing',
        description: `Feeds a ${portType} value that the test gave as JS data.`,
        params: Type.Object({ value: Type.String({ description: 'Content key of the value in the test run.' }) }),
        inputs: {},
        outputs: { [output]: { type: portType } },
        async run({ params, context }) {
          if (!tables.values.has(params.value))
            throw new Error(`${context.nodeId}: this source's value is not registered (run it through a test runtime)`);
          return { [output]: await uploadValue(context.tensors, tables.values.get(params.value)) };
        },
      }),
      defineNode({
        type: names.capture,
        version: 1,
        title: `Capture (${portType})`,
        category: 'testing',
        description: `Records the ${portType} value that reaches it, with its tensors read into JS.`,
        params: Type.Object({ run: Type.String({ description: 'Token of the test run that collects the value.' }) }),
        inputs: { value: { type: portType } },
        outputs: {},
        cache: false,
        async run({ params, inputs, context }) {
          const value = await readValue(context.tensors, inputs.value);
          tables.captures.get(params.run)?.set(context.nodeId, { portType, value });
          return {};
        },
      }),
    ];
  });
  return { plugin: { name: '@kinegraph/core/testing', nodes }, types };
}
