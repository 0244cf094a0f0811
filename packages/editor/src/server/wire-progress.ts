import type { RunEvent } from '@kinegraph/core';
import type { WireEvent } from '../shared/protocol.js';

/**
 * A `node:progress` event as it travels to clients: its preview's image bytes in base64 (JSON carries no
 * bytes). Used by both places that send run events, the in-process runs and the queue's workers.
 */
export function progressToWire(event: Extract<RunEvent, { type: 'node:progress' }>): WireEvent {
  const { preview, ...rest } = event;
  if (!preview) return rest;
  return {
    ...rest,
    preview: {
      mime: preview.mime,
      width: preview.width,
      height: preview.height,
      data: Buffer.from(preview.data).toString('base64'),
    },
  };
}
