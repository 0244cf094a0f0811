/**
 * @kinegraph/editor: the local server (HTTP + WebSocket API, documented in this package's README) and the
 * browser node editor it serves. `kinegraph serve` loads this package on demand.
 * @packageDocumentation
 */
export { startServer } from './server/server.js';
export type { RunningServer, ServerOptions } from './server/server.js';
export { serve } from './server/serve.js';
export type { ServeOptions } from './server/serve.js';
export { sniff, safeUploadName } from './server/uploads.js';
export { applyEvent, queuedRun, isFinished } from './shared/run-state.js';
export type { ErrorBody, ExampleWorkflow, NodeRunState, NodeStatus, RunSnapshot, RunStatus, ServerMessage, UploadResult, WireEvent, WirePreview } from './shared/protocol.js';
