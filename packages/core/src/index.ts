/**
 * @kinegraph/core: the headless runtime. Plugin authors import `@kinegraph/core/sdk` instead; this entry is
 * for hosts (the CLI, the editor's server, scripts and tests) that validate and run workflows.
 * @packageDocumentation
 */
export * from './sdk/index.js';
export { Runtime, WorkflowInvalidError } from './runtime.js';
export type { RunOptions, RuntimeOptions } from './runtime.js';
export { NodeRegistry } from './registry/registry.js';
export type { PluginSource, RegisteredNode } from './registry/registry.js';
export { describeNodes, withProvenance } from './registry/describe.js';
export type { NodeDescription } from './registry/describe.js';
export { findPlugins, loadPlugins } from './plugins/discover.js';
export type { DiscoveryReport, PluginCandidate } from './plugins/discover.js';
export { WORKFLOW_FORMAT, WorkflowSchema, WorkflowNodeSchema, EdgeSchema } from './workflow/schema.js';
export type { Edge, Workflow, WorkflowNode } from './workflow/schema.js';
export { workflowJsonSchema, workflowJsonSchemaText } from './workflow/json-schema.js';
export { applyOverrides, parseOverride } from './workflow/overrides.js';
export type { ParamOverride } from './workflow/overrides.js';
export { validateWorkflow } from './validate/validate.js';
export type { PreparedNode, PreparedWorkflow, ValidationResult } from './validate/validate.js';
export { VALIDATION_CODES, formatIssue } from './validate/issue.js';
export type { ValidationCode, ValidationIssue } from './validate/issue.js';
export { executeWorkflow, defaultAllowedFolders } from './scheduler/scheduler.js';
export type { ExecuteOptions } from './scheduler/scheduler.js';
export { OutputCache } from './scheduler/output-cache.js';
export { createFileAccess } from './scheduler/file-access.js';
export { RUN_EVENT_TYPES, isTerminalEvent } from './scheduler/events.js';
export type { OutputSummary, RunEvent } from './scheduler/events.js';
export { serializeError } from './util/errors.js';
export type { SerializedError } from './util/errors.js';
export { contentHash, canonicalJson } from './util/hash.js';
export * from './tensor/index.js';
export { failActiveRuns } from './scheduler/scheduler.js';
