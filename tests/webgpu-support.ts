// Whether the whole-workflow tests can run on webgpu here. Where no adapter exists they skip, except under
// CI=true: CI installs Mesa's lavapipe (.ci/run), and a GPU path that silently skipped there would never run.
import { createTensorStore } from '@kinegraph/core';

export const CI = process.env.CI === 'true';

/** Opens (and closes) a webgpu store once: '' when it works, else why not. */
export async function webgpuProblem(): Promise<string> {
  try {
    const store = await createTensorStore({ device: 'webgpu' });
    await store.close();
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}
