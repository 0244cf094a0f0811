/**
 * Entry point of the inference worker (built to `dist/inference-worker.js` and started by the tensor
 * store with `new Worker(url)`). Resolves the requested device, says hello, then serves requests.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { resolveDevice } from '../backend/onnx.js';
import { serializeTensorError } from '../tensor/errors.js';
import type { WorkerHello, WorkerInit, WorkerRequest } from './protocol.js';
import { InferenceServer } from './server.js';

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('inference-worker.js must be started as a worker thread');
  const init = workerData as WorkerInit;
  let hello: WorkerHello;
  let server: InferenceServer | undefined;
  try {
    const res = await resolveDevice(init.device);
    server = new InferenceServer(
      res.device,
      init.threads,
      (msg, transfer) => port.postMessage(msg, transfer),
      init.profileDir,
    );
    hello = {
      type: 'ready',
      device: res.device,
      reason: res.reason,
      available: res.available,
      ...(res.adapter !== undefined ? { adapter: res.adapter } : {}),
    };
  } catch (err) {
    hello = { type: 'init-error', error: serializeTensorError(err, 'DEVICE_UNAVAILABLE') };
  }
  if (server !== undefined) {
    const s = server;
    port.on('message', (msg: WorkerRequest) => s.handle(msg));
  }
  port.postMessage(hello);
}

void main();
