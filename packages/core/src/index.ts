/**
 * @kinegraph/core: the headless runtime. Plugin authors import `@kinegraph/core/sdk` instead; this entry is
 * for hosts (the CLI, the editor's server, scripts and tests) that validate and run workflows.
 * @packageDocumentation
 */

export { defaultAllowedFolders } from './host/allowed-folders.js';
export type { DiscoveryReport, PluginCandidate } from './plugins/discover.js';
export { findPlugins, loadPlugins } from './plugins/discover.js';
export type { BlueprintDescription, NodeDescription } from './registry/describe.js';
export { describeNodes, withProvenance } from './registry/describe.js';
export type { PluginSource, RegisteredBlueprint, RegisteredNode } from './registry/registry.js';
export { NodeRegistry } from './registry/registry.js';
export type { RunOptions, RuntimeOptions } from './runtime.js';
export { Runtime, WorkflowInvalidError } from './runtime.js';
export type { NodeMemoryReport, OutputSummary, RunEvent } from './scheduler/events.js';
export { isTerminalEvent, RUN_EVENT_TYPES } from './scheduler/events.js';
export { createFileAccess } from './scheduler/file-access.js';
export { defaultMemoryBudget } from './scheduler/memory-budget.js';
export { OutputCache } from './scheduler/output-cache.js';
export type { ExecuteOptions } from './scheduler/scheduler.js';
export { executeWorkflow } from './scheduler/scheduler.js';
export { failActiveRuns } from './scheduler/stray-errors.js';
export * from './sdk/index.js';
// The tensor layer: the worker-backed store, tensor ops, the ONNX graph builder, seeded noise, coded errors.

export type {
  Attr,
  BuiltGraph,
  Dim,
  GraphPort,
  GraphValue,
  Operand,
  PadOptions,
  ResizeOptions,
} from './graph/index.js';
export { buildGraph, GraphBuilder } from './graph/index.js';
export type { ResizeMode, TensorOpsStats } from './ops/tensor-ops.js';
export { TensorOps } from './ops/tensor-ops.js';
export { readEmbeddedWorkflow } from './registry/embedded-workflow.js';
export { byteSize, DTYPE_BYTES, DTYPES, elementCount } from './tensor/dtype.js';
export type { TensorErrorCode } from './tensor/errors.js';
export {
  DeviceUnavailableError,
  RunAbortedError,
  StoreClosedError,
  TensorError,
  WorkerCrashedError,
} from './tensor/errors.js';
export { gaussianNoise } from './tensor/random.js';
export type * from './tensor/types.js';
export type { SerializedError } from './util/errors.js';
export { serializeError } from './util/errors.js';
export { canonicalJson, contentHash } from './util/hash.js';
export { depthExceededAt, MAX_JSON_DEPTH } from './util/json-depth.js';
export type { PreparedNode, PreparedWorkflow, ValidateOptions, ValidationResult } from './validate/validate.js';
export { validateWorkflow } from './validate/validate.js';
export type { ManagedTensorStore, ManagedTensorStoreStats, TensorStoreOptions } from './worker/client.js';
export { createTensorStore } from './worker/client.js';
export type { WorkerInspection } from './worker/protocol.js';
export type { ValidationCode, ValidationIssue } from './workflow/issue.js';
export { formatIssue, VALIDATION_CODES } from './workflow/issue.js';
export {
  blueprintJsonSchema,
  blueprintJsonSchemaText,
  workflowJsonSchema,
  workflowJsonSchemaText,
} from './workflow/json-schema.js';
export type { ParamOverride } from './workflow/overrides.js';
export { applyOverrides, parseOverride } from './workflow/overrides.js';
export type { Blueprint, Edge, Subgraph, Workflow, WorkflowNode } from './workflow/schema.js';
export {
  BLUEPRINT_FORMAT,
  BlueprintSchema,
  EdgeSchema,
  SUBGRAPH_INPUT_NODE,
  SUBGRAPH_TYPE_PREFIX,
  SubgraphSchema,
  WORKFLOW_FORMAT,
  WorkflowNodeSchema,
  WorkflowSchema,
} from './workflow/schema.js';
export { nodeTypesNeeded } from './workflow/subgraphs.js';
