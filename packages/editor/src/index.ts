/**
 * @kinegraph/editor: the local server (HTTP + WebSocket API, documented in this package's README) and the
 * browser node editor it serves. `kinegraph serve` loads this package on demand.
 * @packageDocumentation
 */

export type {
  JobDetail,
  JobPage,
  JobQuery,
  JobStatus,
  JobSummary,
  RunBackend,
  SubmitOptions,
  WorkerInfo,
} from './queue/backend.js';
export type { WorkerCommandOptions } from './queue/worker-cli.js';
export { worker } from './queue/worker-cli.js';
export type { ServerLimits } from './server/limits.js';
export { DEFAULT_LIMITS } from './server/limits.js';
export type { ServeOptions } from './server/serve.js';
export { serve } from './server/serve.js';
export type { RunningServer, ServerOptions } from './server/server.js';
export { startServer } from './server/server.js';
export type { CheckedMedia } from './server/upload-check.js';
export { checkMedia, MediaCheckError } from './server/upload-check.js';
export { safeUploadName, sniff } from './server/uploads.js';
export type {
  ErrorBody,
  ExampleWorkflow,
  NodeRunState,
  NodeStatus,
  RunSnapshot,
  RunStatus,
  RunWorker,
  ServerMessage,
  UploadResult,
  WireEvent,
  WirePreview,
} from './shared/protocol.js';
export { applyEvent, isFinished, queuedRun } from './shared/run-state.js';
