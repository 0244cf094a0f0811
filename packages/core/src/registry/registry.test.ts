import { describe, expect, it } from 'vitest';
import { type AnyNodeDefinition, defineNode, Type } from '../sdk/index.js';
import { testPlugin, textSource } from '../test-support/plugin.js';
import { describeNodes, withProvenance } from './describe.js';
import { NodeRegistry } from './registry.js';

describe('NodeRegistry', () => {
  it('has the built-in port types and registers a plugin', async () => {
    const registry = new NodeRegistry();
    for (const t of ['text', 'embedding', 'image', 'video', 'mask', 'model', 'conditioning', 'style', 'latent'])
      expect(registry.portType(t)).toBeDefined();
    registry.register(await testPlugin(), { package: 'test-plugin', version: '1.0.0' });
    expect(registry.types()).toContain('test/upper');
    expect(registry.get('test/upper')!.source.package).toBe('test-plugin');
  });

  it('refuses a duplicate node type, naming both plugins, and registers nothing of the second', () => {
    const registry = new NodeRegistry();
    registry.register({ name: 'first', nodes: [textSource] });
    const other = defineNode({ ...textSource, type: 'other/node' });
    expect(() => registry.register({ name: 'second', nodes: [other, textSource] })).toThrowError(
      /registered by both "first" and "second"/,
    );
    expect(registry.get('other/node')).toBeUndefined();
    try {
      registry.register({ name: 'second', nodes: [textSource] });
    } catch (error) {
      expect((error as { code: string }).code).toBe('NODE_TYPE_DUPLICATE');
    }
  });

  it('requires namespaced types, integer versions and known port types', () => {
    const registry = new NodeRegistry();
    expect(() => registry.register({ name: 'p', nodes: [{ ...textSource, type: 'NoNamespace' }] })).toThrowError(
      /namespace\/kebab-name/,
    );
    expect(() => registry.register({ name: 'p', nodes: [{ ...textSource, version: 0 }] })).toThrowError(/version 0/);
    const bad: AnyNodeDefinition = {
      ...(textSource as AnyNodeDefinition),
      type: 'p/bad',
      outputs: { x: { type: 'acme/lut' } },
    };
    expect(() => registry.register({ name: 'p', nodes: [bad] })).toThrowError(/unknown type "acme\/lut"/);
  });

  it('lets a plugin add a port type and use it', () => {
    const registry = new NodeRegistry();
    const lut = defineNode({
      type: 'acme/make-lut',
      version: 1,
      title: 'LUT',
      category: 'color',
      description: 'd',
      params: Type.Object({}),
      inputs: {},
      outputs: { lut: { type: 'acme/lut' } },
      run: () => ({ lut: 1 }),
    });
    registry.register({
      name: 'acme',
      portTypes: [{ name: 'acme/lut', description: 'A 3D LUT', color: '#fff' }],
      nodes: [lut],
    });
    expect(registry.portType('acme/lut')).toBeDefined();
    expect(() =>
      registry.register({ name: 'acme2', portTypes: [{ name: 'video', description: '', color: '' }] }),
    ).toThrowError(/already registered/);
  });

  it('describes nodes as serialisable JSON Schema data and records provenance', async () => {
    const registry = new NodeRegistry();
    registry.register(await testPlugin(), { package: 'test-plugin', version: '1.0.0' });
    const { nodes, portTypes } = describeNodes(registry);
    const upper = nodes.find((n) => n.type === 'test/upper')!;
    expect(upper.params).toMatchObject({
      type: 'object',
      properties: { times: { type: 'integer', minimum: 1, maximum: 10, default: 1 } },
    });
    expect(upper.inputs.text).toEqual({ type: 'text', title: 'text', optional: false });
    expect(JSON.parse(JSON.stringify({ nodes, portTypes }))).toEqual({ nodes, portTypes });
    const wf = withProvenance({ nodes: { a: { type: 'test/upper' } } }, registry);
    expect(wf.metadata.nodeTypes).toEqual({ 'test/upper': { package: 'test-plugin', version: '1.0.0' } });
  });
});
