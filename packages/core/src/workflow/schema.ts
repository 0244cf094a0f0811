import { type Static, Type } from '@sinclair/typebox';
import { BLUEPRINT_FORMAT, SUBGRAPH_INPUT_NODE, SUBGRAPH_TYPE_PREFIX, WORKFLOW_FORMAT } from './format.js';

export { BLUEPRINT_FORMAT, SUBGRAPH_INPUT_NODE, SUBGRAPH_TYPE_PREFIX, WORKFLOW_FORMAT };

/** Node ids: what `--set <node>.<param>=...` and edges use. Subgraph ids follow the same rule. */
export const NODE_ID_PATTERN = '^[A-Za-z_][A-Za-z0-9_-]{0,63}$';

const Vec2 = Type.Tuple([Type.Number(), Type.Number()]);

/** An edge into an input port: the source node's id and output port name. */
export const EdgeSchema = Type.Object(
  {
    node: Type.String({ maxLength: 64, description: 'Id of the node whose output feeds this input.' }),
    output: Type.String({ maxLength: 200, description: 'Name of that node\u2019s output port.' }),
  },
  { additionalProperties: false },
);

/** Editor-only layout of a node; ignored when running. */
export const NodeUiSchema = Type.Object(
  {
    pos: Type.Optional(Vec2),
    size: Type.Optional(Vec2),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    collapsed: Type.Optional(Type.Boolean()),
    color: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);

/** One node of a workflow. */
export const WorkflowNodeSchema = Type.Object(
  {
    type: Type.String({
      minLength: 1,
      maxLength: 200,
      description: 'Namespaced node type, e.g. kinegraph/text-encode.',
    }),
    version: Type.Integer({ minimum: 1, description: 'Version of the node type this node was saved with.' }),
    params: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'Parameter values; validated by the node type\u2019s own schema.',
      }),
    ),
    inputs: Type.Optional(
      Type.Record(Type.String(), EdgeSchema, { description: 'Input port name \u2192 source node output.' }),
    ),
    mode: Type.Optional(
      Type.Union([Type.Literal('bypass'), Type.Literal('mute')], {
        description:
          'bypass: each output passes on the node\u2019s first connected input of the same port type, and the node does not run; mute: the node does not run, nor what needs its outputs.',
      }),
    ),
    ui: Type.Optional(NodeUiSchema),
  },
  { additionalProperties: false },
);

/** A visual group of nodes in the editor. */
export const GroupSchema = Type.Object(
  {
    title: Type.String({ maxLength: 200 }),
    bounding: Type.Tuple([Type.Number(), Type.Number(), Type.Number(), Type.Number()]),
    color: Type.Optional(Type.String({ maxLength: 64 })),
  },
  { additionalProperties: true },
);

/** A point a link passes through on its way from an output to an input (editor-only). */
export const RerouteSchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1 }),
    pos: Vec2,
    parent: Type.Optional(
      Type.Integer({ minimum: 1, description: 'The reroute before this one, coming from the output.' }),
    ),
  },
  { additionalProperties: true },
);

/** Editor-only layout of the whole graph; ignored when running. */
export const WorkflowUiSchema = Type.Object(
  {
    reroutes: Type.Optional(Type.Array(RerouteSchema, { maxItems: 10_000 })),
    links: Type.Optional(
      Type.Array(
        Type.Object(
          {
            node: Type.String({ maxLength: 64 }),
            input: Type.String({ maxLength: 200 }),
            reroute: Type.Integer({ minimum: 1, description: 'The last reroute the edge into this input passes.' }),
          },
          { additionalProperties: true },
        ),
        { maxItems: 100_000 },
      ),
    ),
  },
  { additionalProperties: true },
);

const PortName = Type.String({ pattern: NODE_ID_PATTERN });

/** One input of a subgraph: what its instances take. Inner nodes read it as `{"node": "$input", "output": name}`. */
export const SubgraphInputSchema = Type.Object(
  {
    type: Type.String({ minLength: 1, maxLength: 200, description: 'Port type the input takes.' }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
    optional: Type.Optional(Type.Boolean({ description: 'Instances may leave it unconnected.' })),
  },
  { additionalProperties: false },
);

/** One output of a subgraph: which inner node's output it gives. */
export const SubgraphOutputSchema = Type.Object(
  {
    node: Type.String({ maxLength: 64, description: 'Id of the inner node (or "$input").' }),
    output: Type.String({ maxLength: 200 }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/** A param of an inner node that instances set (an "exposed" param). */
export const SubgraphParamSchema = Type.Object(
  {
    node: Type.String({ maxLength: 64, description: 'Id of the inner node whose param this is.' }),
    param: Type.String({ maxLength: 200 }),
    title: Type.Optional(Type.String({ maxLength: 200 })),
  },
  { additionalProperties: false },
);

/**
 * A subgraph: nodes that instances (nodes of type `subgraph/<id>`) run as one node, with the inputs,
 * outputs and params it exposes. Inner nodes are ordinary workflow nodes; they may be instances of other
 * subgraphs of the same workflow.
 */
export const SubgraphSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200, description: 'Title of its instances.' }),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    inputs: Type.Optional(Type.Record(PortName, SubgraphInputSchema)),
    outputs: Type.Optional(Type.Record(PortName, SubgraphOutputSchema)),
    params: Type.Optional(Type.Record(PortName, SubgraphParamSchema)),
    nodes: Type.Record(Type.String({ pattern: NODE_ID_PATTERN }), WorkflowNodeSchema),
    groups: Type.Optional(Type.Array(GroupSchema)),
    /** Where it came from, when it was added from a plugin's blueprint. */
    blueprint: Type.Optional(
      Type.Object(
        {
          type: Type.String({ maxLength: 200 }),
          package: Type.Optional(Type.String()),
          version: Type.Optional(Type.Integer()),
        },
        { additionalProperties: false },
      ),
    ),
    ui: Type.Optional(WorkflowUiSchema),
  },
  { additionalProperties: false },
);

/** Which package (and version) provided each node type when the workflow was saved. */
export const NodeTypeProvenanceSchema = Type.Record(
  Type.String(),
  Type.Object({ package: Type.String(), version: Type.Optional(Type.String()) }, { additionalProperties: false }),
);

/** A Kinegraph workflow document (`kinegraph/workflow@1`). */
export const WorkflowSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    format: Type.Literal(WORKFLOW_FORMAT),
    name: Type.Optional(Type.String({ maxLength: 200 })),
    description: Type.Optional(Type.String({ maxLength: 10_000 })),
    nodes: Type.Record(Type.String({ pattern: NODE_ID_PATTERN }), WorkflowNodeSchema),
    groups: Type.Optional(Type.Array(GroupSchema)),
    subgraphs: Type.Optional(
      Type.Record(Type.String({ pattern: NODE_ID_PATTERN }), SubgraphSchema, {
        description: 'Subgraphs by id; a node of type subgraph/<id> runs one.',
      }),
    ),
    ui: Type.Optional(WorkflowUiSchema),
    metadata: Type.Optional(
      Type.Object(
        {
          nodeTypes: Type.Optional(NodeTypeProvenanceSchema),
        },
        { additionalProperties: true },
      ),
    ),
  },
  {
    $id: 'https://kinegraph.dev/schema/workflow.schema.json',
    title: 'Kinegraph workflow',
    description: 'A graph of typed nodes that Kinegraph validates and runs. Edges name ports, never indices.',
    additionalProperties: false,
  },
);

/**
 * A subgraph blueprint: a subgraph a plugin ships as a file, for the palette (adding one copies the
 * subgraph into the workflow) and for workflows that name it as a node type (`"type": "<its type>"`).
 */
export const BlueprintSchema = Type.Object(
  {
    $schema: Type.Optional(Type.String()),
    format: Type.Literal(BLUEPRINT_FORMAT),
    type: Type.String({
      pattern: '^[a-z0-9][a-z0-9-]*(\\.[a-z0-9-]+)*/[a-z0-9][a-z0-9-]*$',
      description: 'Namespaced like node types, e.g. acme/sharpen-twice.',
    }),
    version: Type.Integer({ minimum: 1, description: 'Instances saved with this version run it.' }),
    category: Type.Optional(Type.String({ maxLength: 200, description: 'Palette category.' })),
    subgraph: SubgraphSchema,
  },
  {
    $id: 'https://kinegraph.dev/schema/blueprint.schema.json',
    title: 'Kinegraph subgraph blueprint',
    additionalProperties: false,
  },
);

export type Workflow = Static<typeof WorkflowSchema>;
export type Blueprint = Static<typeof BlueprintSchema>;
export type Subgraph = Static<typeof SubgraphSchema>;
export type WorkflowNode = Static<typeof WorkflowNodeSchema>;
export type Edge = Static<typeof EdgeSchema>;
