/**
 * The Kinegraph plugin SDK: the only module plugin authors import.
 *
 * ```ts
 * import { defineGraph, defineNode, definePlugin, Type } from '@kinegraph/core/sdk';
 * ```
 *
 * Their tests import `@kinegraph/core/testing`.
 * @packageDocumentation
 */

export type { Static, TObject, TSchema } from '@sinclair/typebox';
export { Type } from '@sinclair/typebox';
export type { FloatInitializer } from '../backend/initializers.js';
export { readOnnxInitializers } from '../backend/initializers.js';
export type { BuiltGraph, GraphValue, Operand } from '../graph/index.js';
export { buildGraph, GraphBuilder } from '../graph/index.js';
export type { ResizeMode } from '../ops/tensor-ops.js';
export { TensorOps } from '../ops/tensor-ops.js';
export { gaussianNoise } from '../tensor/random.js';
export type {
  AppendedGraph,
  DeviceName,
  DType,
  ModelHandle,
  ModelOptions,
  ModelPortInfo,
  TensorData,
  TensorHandle,
  TensorLocation,
  TensorStore,
  TensorStoreStats,
} from '../tensor/types.js';
export { cacheFolder } from '../util/cache-dir.js';
export { KinegraphError } from '../util/errors.js';
export { fileSha256 } from '../util/file-sha256.js';
export { isPrivateFile, PRIVATE_FILE_MODE, PRIVATE_FOLDER_MODE } from '../util/private-file.js';
export { ownsWholeBuffer, releaseMemory } from '../util/release-memory.js';
export type { FileAccess } from './files.js';
export type { GraphContext, GraphDefinition, GraphFeed, GraphFeeds, GraphOutputs } from './graph.js';
export { defineGraph, defineGraphFamily } from './graph.js';
export type { MemoryBudget, NodeMemory, TensorShape } from './memory.js';
export { declaredBytes, NodeMemorySchema, shapeBytes, TensorShapeSchema } from './memory.js';
export type {
  AnyNodeDefinition,
  InputFacts,
  InputShapes,
  InputValues,
  NodeContext,
  NodeDefinition,
  NodeMigration,
  OutputValues,
  PortMap,
  PortSpec,
  Preview,
} from './node.js';
export { defineNode, isValidNodeType } from './node.js';
export type { EmbeddedTexts, KinegraphPlugin, PluginFactory, WorkflowTextReader } from './plugin.js';
export { definePlugin, PLUGIN_API_VERSION } from './plugin.js';
export type {
  ConditioningValue,
  EmbeddingValue,
  ImageValue,
  LatentValue,
  MaskValue,
  ModelValue,
  PortTypeDefinition,
  PortValue,
  PortValueMap,
  StyleValue,
  VideoValue,
} from './port-types.js';
export { BUILTIN_PORT_TYPES, definePortType } from './port-types.js';
