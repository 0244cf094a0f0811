import { describe, expect, it } from 'vitest';
import { DeviceUnavailableError, rehydrateError, serializeTensorError, TensorError } from '../tensor/errors.js';
import { KinegraphError, serializeError } from './errors.js';

describe('serializeError: the one plain-data form of errors', () => {
  it('keeps code, node and hint; names the fallback node; knows aborts', () => {
    const coded = new KinegraphError('DEMO', 'broken', { nodeId: 'a', hint: 'fix it' });
    expect(serializeError(coded, 'b')).toEqual({ code: 'DEMO', message: 'broken', nodeId: 'a', hint: 'fix it' });
    expect(serializeError(new Error('plain'), 'b')).toEqual({ code: 'NODE_FAILED', message: 'plain', nodeId: 'b' });
    expect(serializeError(new DOMException('stop', 'AbortError')).code).toBe('CANCELLED');
    expect(serializeError('a string', { fallbackCode: 'INTERNAL' })).toEqual({ code: 'INTERNAL', message: 'a string' });
  });

  it('carries details only where asked (the worker boundary), never into run events', () => {
    const error = new TensorError('MODEL_LOAD_FAILED', 'no', { path: '/somewhere' });
    expect(serializeError(error)).not.toHaveProperty('details');
    expect(serializeError(error, { details: true }).details).toEqual({ path: '/somewhere' });
  });

  it('sends only tensor-layer codes across the worker boundary, and rebuilds the same class', () => {
    expect(serializeTensorError(Object.assign(new Error('disk'), { code: 'ENOENT' }))).toEqual({
      code: 'INTERNAL',
      message: 'disk',
    });
    const device = rehydrateError(serializeTensorError(new DeviceUnavailableError('webgpu', ['cpu'], 'no adapter')));
    expect(device).toBeInstanceOf(DeviceUnavailableError);
    expect((device as DeviceUnavailableError).available).toEqual(['cpu']);
    expect(device.message).toContain('no adapter');
  });
});
