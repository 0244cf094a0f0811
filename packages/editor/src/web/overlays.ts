/**
 * HTML elements laid over nodes (previews, the result video): positioned from the canvas's pan and zoom
 * on every frame it draws, so they move with their node. Real `<img>`/`<video>` elements animate GIF
 * previews and play video, which drawing into the canvas would not.
 */
import type { LGraphCanvas, LGraphNode } from '@comfyorg/litegraph';

/** Keeps one element per node id over the canvas. */
export class Overlays {
  readonly #elements = new Map<string, HTMLElement>();

  constructor(
    private readonly layer: HTMLElement,
    private readonly canvas: LGraphCanvas,
  ) {}

  /** Shows `element` in the bottom `height` graph units of the node (replacing what was there). */
  set(nodeId: string, element: HTMLElement): void {
    const old = this.#elements.get(nodeId);
    if (old === element) return;
    old?.remove();
    element.classList.add('overlay');
    this.layer.append(element);
    this.#elements.set(nodeId, element);
  }

  get(nodeId: string): HTMLElement | undefined {
    return this.#elements.get(nodeId);
  }

  /** Removes the element over a node, if any. */
  remove(nodeId: string): void {
    this.#elements.get(nodeId)?.remove();
    this.#elements.delete(nodeId);
  }

  clear(): void {
    for (const e of this.#elements.values()) e.remove();
    this.#elements.clear();
  }

  /** Places every element over its node's media area; hides those whose node is gone or collapsed. */
  layout(nodeById: (id: string) => (LGraphNode & { mediaHeight?: number }) | undefined): void {
    const { scale, offset } = this.canvas.ds;
    for (const [id, element] of this.#elements) {
      const node = nodeById(id);
      const media = node?.mediaHeight ?? 0;
      if (!node || node.flags.collapsed || media <= 0) {
        element.style.display = 'none';
        continue;
      }
      const pad = 8;
      const x = (node.pos[0] + pad + offset[0]) * scale;
      const y = (node.pos[1] + node.size[1] - media + offset[1]) * scale;
      element.style.display = '';
      element.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
      element.style.width = `${node.size[0] - pad * 2}px`;
      element.style.height = `${media - pad}px`;
    }
  }
}
