import type { NodeContext, TensorHandle } from '@kinegraph/core/sdk';

/**
 * The tensors a sampling loop carries from one step to the next (the state x, the next model input when
 * the update makes it, the previous x0 for DPM++ 2M) and their hand-over after each update, shared by
 * {@link denoise} and {@link denoiseFused} so both free exactly what they replace.
 */
export class LoopState {
  x: TensorHandle;
  xin: TensorHandle | undefined;
  history: TensorHandle | undefined;

  constructor(
    private readonly context: NodeContext,
    start: TensorHandle,
    private readonly total: number,
    private readonly onStep?: (step: number, x0: TensorHandle) => Promise<void> | void,
  ) {
    this.x = start;
  }

  /** After step `step`'s update: frees `used`, adopts `x_next`, `next_in` and `x0`, reports the step. */
  async advance(
    step: number,
    out: Readonly<Record<string, TensorHandle>>,
    used: readonly (TensorHandle | undefined)[],
  ): Promise<void> {
    const tensors = this.context.tensors;
    for (const handle of used) if (handle) tensors.release(handle);
    this.x = out.x_next!;
    this.xin = out.next_in;
    if (this.onStep) await this.onStep(step, out.x0!);
    if (this.history) tensors.release(this.history);
    this.history = out.x0;
    this.context.progress((step + 1) / this.total);
  }

  /** On failure: the state, which the loop would otherwise have returned. */
  fail(): void {
    this.context.tensors.release(this.x);
  }

  /** Always, at the end: what only the loop used. */
  dispose(): void {
    if (this.history) this.context.tensors.release(this.history);
    if (this.xin) this.context.tensors.release(this.xin);
  }
}
