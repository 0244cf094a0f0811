/**
 * Returning the memory of large buffers when their owner is done with them, not at the next garbage
 * collection.
 *
 * V8 frees an ArrayBuffer's memory only when a collection finds it unreachable, and a thread collects only
 * while it allocates. A thread that goes idle right after dropping a large buffer keeps that memory for as
 * long as it stays idle: measured, the inference worker still held the 1.2 GB of a 1024²×100 clip's tensor
 * data, and the server's main thread the 400 MB of its decoded frames, seconds after the run had ended and
 * every handle had been released (nothing reachable: the store's ledger and the worker's tensor map were
 * empty). Under a memory limit that garbage is what gets a server killed.
 *
 * Detaching a buffer frees its memory at once. Node 20 has no `ArrayBuffer.prototype.transfer`, but the
 * HTML standard's message-port steps serialise a message, detaching everything in its transfer list, before
 * they look at whether the port is still entangled: a buffer posted to a closed port is detached and then
 * dropped with the message. Node implements exactly that (nodejs/node#21540).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';

let closedPort: MessagePort | undefined;

function sink(): MessagePort {
  if (closedPort === undefined) {
    const { port1, port2 } = new MessageChannel();
    port1.close();
    port2.close();
    closedPort = port1;
  }
  return closedPort;
}

/**
 * True when freeing `view`'s buffer frees nothing but `view`: a plain (not shared) ArrayBuffer, not
 * detached yet, that the view spans exactly. A view into part of a buffer (a pooled Node `Buffer`, a frame
 * cut out of a larger read) may share it with data somebody else still uses.
 */
export function ownsWholeBuffer(view: ArrayBufferView): boolean {
  const { buffer } = view;
  return (
    buffer instanceof ArrayBuffer &&
    buffer.byteLength > 0 &&
    view.byteOffset === 0 &&
    view.byteLength === buffer.byteLength
  );
}

/**
 * Frees the memory behind each typed array now, for data its owner is done with: the caller promises that
 * nothing else reads it (afterwards each array has length 0). Arrays that do not span their whole buffer
 * (see {@link ownsWholeBuffer}), shared buffers, and buffers V8 does not let go of (WebAssembly memory) are
 * left to the garbage collector, as is `undefined`. Costs about 2 µs per array.
 */
export function releaseMemory(...views: ReadonlyArray<ArrayBufferView | undefined>): void {
  // Each buffer once: a second transfer of a buffer in one call would throw.
  const buffers = new Set<ArrayBuffer>();
  for (const view of views) if (view !== undefined && ownsWholeBuffer(view)) buffers.add(view.buffer as ArrayBuffer);
  for (const buffer of buffers) {
    try {
      sink().postMessage(undefined, [buffer]);
    } catch {
      // Not detachable: the collector frees it in its own time.
    }
  }
}
