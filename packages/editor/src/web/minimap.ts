/**
 * The minimap: the whole graph drawn small in a corner of the canvas (groups, nodes in their colours, the
 * running node in blue), with the part in view outlined. Click or drag in it to move the view there.
 */
import type { LGraphCanvas, LGraphGroup, LGraphNode } from '@comfyorg/litegraph';

const WIDTH = 200;
const HEIGHT = 140;
const PAD = 40;

/** Draws the minimap into its own small canvas over the graph. */
export class Minimap {
  readonly element: HTMLCanvasElement;
  #frame = 0;
  #bounds: [number, number, number, number] = [0, 0, 1, 1];
  #scale = 1;

  constructor(
    parent: HTMLElement,
    private readonly canvas: LGraphCanvas,
    private readonly nodeColor: (node: LGraphNode) => string,
  ) {
    this.element = document.createElement('canvas');
    this.element.id = 'minimap';
    this.element.width = WIDTH * devicePixelRatio;
    this.element.height = HEIGHT * devicePixelRatio;
    this.element.style.width = `${WIDTH}px`;
    this.element.style.height = `${HEIGHT}px`;
    this.element.title = 'Minimap: click or drag to move the view (Alt+M hides it)';
    parent.append(this.element);
    let dragging = false;
    this.element.addEventListener('pointerdown', (e) => {
      dragging = true;
      this.element.setPointerCapture(e.pointerId);
      this.#centreOn(e);
    });
    this.element.addEventListener('pointermove', (e) => {
      if (dragging) this.#centreOn(e);
    });
    this.element.addEventListener('pointerup', () => (dragging = false));
    this.element.addEventListener('wheel', (e) => e.preventDefault(), { passive: false });
  }

  get visible(): boolean {
    return !this.element.hidden;
  }

  set visible(on: boolean) {
    this.element.hidden = !on;
    if (on) this.update();
  }

  /** Redraws at the next animation frame (cheap to call on every canvas frame). */
  update(): void {
    if (this.element.hidden || this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  /** Where, in graph units, a point of the minimap is. */
  #toGraph(e: PointerEvent): [number, number] {
    const r = this.element.getBoundingClientRect();
    const [x, y] = this.#bounds;
    return [x + (e.clientX - r.left) / this.#scale, y + (e.clientY - r.top) / this.#scale];
  }

  #centreOn(e: PointerEvent): void {
    const [gx, gy] = this.#toGraph(e);
    const { ds } = this.canvas;
    const el = this.canvas.canvas;
    ds.offset[0] = -gx + el.clientWidth / 2 / ds.scale;
    ds.offset[1] = -gy + el.clientHeight / 2 / ds.scale;
    this.canvas.setDirty(true, true);
  }

  #draw(): void {
    const ctx = this.element.getContext('2d');
    const graph = this.canvas.graph;
    if (!ctx || !graph) return;
    const nodes = graph._nodes as LGraphNode[];
    const groups = graph._groups as LGraphGroup[];
    const { ds } = this.canvas;
    const el = this.canvas.canvas;
    // The view, in graph units, is always part of what the minimap shows.
    const view = [-ds.offset[0], -ds.offset[1], el.clientWidth / ds.scale, el.clientHeight / ds.scale] as const;
    const rects = [
      ...nodes.map((n) => [n.pos[0], n.pos[1] - 30, n.size[0], n.size[1] + 30] as const),
      ...groups.map((g) => [g.pos[0], g.pos[1], g.size[0], g.size[1]] as const),
      view,
    ];
    const minX = Math.min(...rects.map((r) => r[0])) - PAD;
    const minY = Math.min(...rects.map((r) => r[1])) - PAD;
    const maxX = Math.max(...rects.map((r) => r[0] + r[2])) + PAD;
    const maxY = Math.max(...rects.map((r) => r[1] + r[3])) + PAD;
    const scale = Math.min(WIDTH / (maxX - minX), HEIGHT / (maxY - minY));
    this.#bounds = [minX, minY, maxX - minX, maxY - minY];
    this.#scale = scale;
    const x = (gx: number) => (gx - minX) * scale;
    const y = (gy: number) => (gy - minY) * scale;
    ctx.setTransform(devicePixelRatio, 0, 0, devicePixelRatio, 0, 0);
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    ctx.fillStyle = '#0d0f13e6';
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    for (const g of groups) {
      ctx.fillStyle = `${g.color ?? '#3f789e'}55`;
      ctx.fillRect(x(g.pos[0]), y(g.pos[1]), g.size[0] * scale, g.size[1] * scale);
    }
    for (const n of nodes) {
      ctx.fillStyle = this.nodeColor(n);
      const h = n.collapsed ? 30 : n.size[1] + 30;
      ctx.fillRect(
        x(n.pos[0]),
        y(n.pos[1] - 30),
        Math.max(2, (n.collapsed ? 120 : n.size[0]) * scale),
        Math.max(2, h * scale),
      );
    }
    ctx.strokeStyle = '#e6e8ee';
    ctx.lineWidth = 1;
    ctx.strokeRect(x(view[0]) + 0.5, y(view[1]) + 0.5, view[2] * scale, view[3] * scale);
  }
}
