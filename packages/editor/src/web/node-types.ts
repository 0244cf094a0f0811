/**
 * Registers one litegraph node class per Kinegraph node type from the catalogue: ports coloured by type,
 * widgets from each param's JSON Schema, params kept in `properties.kinegraph` for the conversion, and
 * run state (progress, cached, error) drawn on the node.
 */
import { LGraphCanvas, LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import type { NodeDescription } from '@kinegraph/core';
import { type KinegraphNodeData, LITEGRAPH_MODE } from '../shared/convert.js';
import type { NodeRunState } from '../shared/protocol.js';
import { CATEGORY_COLORS, type Catalog, inputSlotType } from './catalog.js';
import { controlFor, defaultValue, type ParamControl, type ParamSchema, randomSeed } from './widgets.js';

/** The palette category of subgraph instances (and blueprints). */
export const SUBGRAPH_CATEGORY = 'subgraphs';

/** What node classes ask of the app. */
export interface NodeHooks {
  /** Run state of a node in the run being shown, if any. */
  state(nodeId: string): NodeRunState | undefined;
  /** Validation problems of a node, if any. */
  issues(nodeId: string): string[];
  /** A param changed through a widget. */
  changed(node: KinegraphNode, param: string): void;
}

/** Node classes the app created; adds the accessors the app uses. */
export interface KinegraphNode extends LGraphNode {
  readonly description: NodeDescription;
  /** Params, always present (defaults for a new node). */
  params(): Record<string, unknown>;
  /** Sets one param and its widget. */
  setParam(name: string, value: unknown): void;
  /** Space (graph units) at the bottom of the node kept for a preview or video. */
  mediaHeight: number;
}

const noHooks: NodeHooks = { state: () => undefined, issues: () => [], changed: () => undefined };

/** The controls per param of a description, in schema order. */
export function controlsOf(description: NodeDescription): [string, ParamSchema, ParamControl][] {
  const props = ((description.params as { properties?: Record<string, ParamSchema> }).properties ?? {}) as Record<
    string,
    ParamSchema
  >;
  return Object.entries(props).map(([name, schema]) => [name, schema, controlFor(name, schema)]);
}

/** Registers every node type of the catalogue (replacing earlier registrations of the same types). */
export function registerNodeTypes(catalog: Catalog, hooks: NodeHooks = noHooks): void {
  for (const p of catalog.portTypes) LGraphCanvas.link_type_colors[p.name] = p.color;
  for (const description of catalog.nodes) registerDescription(description, catalog, hooks);
}

/** Registers (or replaces) the node class of one description: a catalogue type or a subgraph's instances. */
export function registerDescription(description: NodeDescription, catalog: Catalog, hooks: NodeHooks = noHooks): void {
  LiteGraph.registerNodeType(description.type, makeClass(description, catalog, hooks));
}

/** Colours of bypassed and muted nodes (as ComfyUI's frontend: purple, and dimmed grey). */
const MODE_LOOK: Record<number, { color: string; bgcolor: string; label: string; veil: string }> = {
  [LITEGRAPH_MODE.bypass]: { color: '#6d3b8c', bgcolor: '#3b2547', label: 'bypassed', veil: '#b26bff22' },
  [LITEGRAPH_MODE.mute]: { color: '#3a3a3a', bgcolor: '#1c1c1c', label: 'muted', veil: '#00000088' },
};

function makeClass(description: NodeDescription, catalog: Catalog, hooks: NodeHooks): typeof LGraphNode {
  const controls = controlsOf(description);
  const colors =
    description.category === SUBGRAPH_CATEGORY
      ? { color: '#355a3c', bgcolor: '#1f2a22' }
      : (CATEGORY_COLORS[description.category.split('/')[0]!] ?? { color: '#3a3f47', bgcolor: '#25282d' });
  const portColor = (type: string) => catalog.portTypes.find((p) => p.name === type)?.color ?? '#aaaaaa';

  class Node extends LGraphNode implements KinegraphNode {
    static override title = description.title;
    // On the class, not the instance: litegraph falls back to these, and only instance colours (the user's
    // own choice) are saved in the workflow.
    static color = colors.color;
    static bgcolor = colors.bgcolor;
    static override category = description.category;
    static desc = description.description;
    readonly description = description;
    mediaHeight = 0;

    constructor(title?: string) {
      super(title ?? description.title);
      for (const [name, port] of Object.entries(description.inputs)) {
        const c = portColor(port.type);
        this.addInput(name, inputSlotType(port.type, catalog.portTypes), {
          color_on: c,
          color_off: c,
          label: port.optional ? `${port.title} (optional)` : port.title,
        });
      }
      for (const [name, port] of Object.entries(description.outputs)) {
        const c = portColor(port.type);
        this.addOutput(name, port.type, { color_on: c, color_off: c, label: port.title });
      }
      const params: Record<string, unknown> = {};
      for (const [name, schema, control] of controls) params[name] = defaultValue(schema, control);
      const data: KinegraphNodeData = { version: description.version, params, defaultTitle: description.title };
      this.properties = { kinegraph: data };
      this.serialize_widgets = false;
      for (const [name, , control] of controls) this.#addWidget(name, control);
      this.size = this.computeSize();
      this.size[0] = Math.max(this.size[0], 260);
    }

    params(): Record<string, unknown> {
      const data = this.properties.kinegraph as KinegraphNodeData;
      return (data.params ??= {});
    }

    setParam(name: string, value: unknown): void {
      this.params()[name] = value;
      const widget = this.widgets?.find((w) => w.name === name);
      if (widget) widget.value = displayValue(value) as never;
      this.setDirtyCanvas(true, true);
    }

    #addWidget(name: string, control: ParamControl): void {
      const value = this.params()[name];
      const set = (v: unknown) => {
        this.params()[name] = control.kind === 'number' && control.precision === 0 ? Math.round(Number(v)) : v;
        hooks.changed(this, name);
      };
      switch (control.kind) {
        case 'combo':
          this.addWidget('combo', name, value as string, set, { values: control.values });
          break;
        case 'toggle':
          this.addWidget('toggle', name, Boolean(value), set, {});
          break;
        case 'slider':
          this.addWidget('slider', name, Number(value), set, {
            min: control.min,
            max: control.max,
            step2: control.step,
            precision: control.precision,
          });
          break;
        case 'number':
          this.addWidget('number', name, Number(value), set, {
            ...(control.min !== undefined ? { min: control.min } : {}),
            ...(control.max !== undefined ? { max: control.max } : {}),
            step2: control.step,
            precision: control.precision,
            ...(control.precision === 0 ? { round: 1 } : {}),
          } as never);
          if (control.seed)
            this.addWidget(
              'button',
              `random ${name}`,
              '',
              () => {
                this.setParam(name, randomSeed(control));
                hooks.changed(this, name);
              },
              {},
            );
          break;
        case 'text':
          this.addWidget('text', name, String(value ?? ''), set, { multiline: control.multiline });
          break;
        case 'json':
          // Structured params are edited in the inspector; the node shows nothing for them.
          break;
      }
    }

    override onConfigure(): void {
      // The workflow's params win over the constructor's defaults; widgets follow.
      const data = this.properties.kinegraph as KinegraphNodeData | undefined;
      for (const widget of this.widgets ?? []) {
        const v = data?.params?.[widget.name];
        if (v !== undefined) widget.value = displayValue(v) as never;
      }
    }

    // Bypassed and muted nodes look it, whatever colour they were given.
    override get renderingColor(): string {
      return MODE_LOOK[this.mode]?.color ?? super.renderingColor;
    }

    override get renderingBgColor(): string {
      return MODE_LOOK[this.mode]?.bgcolor ?? super.renderingBgColor;
    }

    override onDrawForeground(ctx: CanvasRenderingContext2D): void {
      const look = MODE_LOOK[this.mode];
      if (look) {
        drawModeVeil(this, ctx, look);
        return;
      }
      drawRunState(this, ctx, hooks.state(String(this.id)), hooks.issues(String(this.id)));
    }
  }
  return Node as unknown as typeof LGraphNode;
}

/** A veil over a bypassed or muted node, and its label in the title bar. */
function drawModeVeil(node: LGraphNode, ctx: CanvasRenderingContext2D, look: { veil: string; label: string }): void {
  const w = node.size[0]!;
  const h = node.size[1]!;
  const titleH = LiteGraph.NODE_TITLE_HEIGHT;
  ctx.fillStyle = look.veil;
  ctx.fillRect(0, -titleH, w, h + titleH);
  ctx.font = '11px Inter, system-ui, sans-serif';
  const tw = ctx.measureText(look.label).width + 12;
  ctx.fillStyle = '#00000066';
  roundRect(ctx, w - tw - 6, -titleH + 6, tw, titleH - 12, 6);
  ctx.fill();
  ctx.fillStyle = '#e6e8ee';
  ctx.textAlign = 'left';
  ctx.fillText(look.label, w - tw, -titleH / 2 + 4);
}

function displayValue(v: unknown): unknown {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : v;
}

const STATUS_COLORS: Record<string, string> = {
  skipped: '#555c66',
  running: '#4fa3ff',
  done: '#4caf50',
  cached: '#8e9aaf',
  error: '#ef5350',
  pending: '#555c66',
};

/** Progress bar along the title, a status badge, and errors in red under the node. */
function drawRunState(
  node: LGraphNode,
  ctx: CanvasRenderingContext2D,
  state: NodeRunState | undefined,
  issues: string[],
): void {
  const w = node.size[0]!;
  const h = node.size[1]!;
  const titleH = LiteGraph.NODE_TITLE_HEIGHT;
  if (state && state.status !== 'pending') {
    const color = STATUS_COLORS[state.status]!;
    // Bar under the title: full for finished nodes, the fraction while running.
    ctx.fillStyle = '#00000055';
    ctx.fillRect(0, -3, w, 3);
    ctx.fillStyle = color;
    if (state.status !== 'skipped') ctx.fillRect(0, -3, w * (state.status === 'running' ? state.progress : 1), 3);
    const label =
      state.status === 'running'
        ? `${Math.round(state.progress * 100)}%`
        : state.status === 'cached'
          ? 'cached'
          : state.status === 'done'
            ? `\u2713 ${formatMs(state.ms ?? 0)}`
            : state.status === 'error'
              ? 'error'
              : state.status === 'skipped'
                ? 'skipped'
                : '';
    ctx.font = '11px Inter, system-ui, sans-serif';
    const tw = ctx.measureText(label).width + 12;
    ctx.fillStyle = color;
    roundRect(ctx, w - tw - 6, -titleH + 6, tw, titleH - 12, 6);
    ctx.fill();
    ctx.fillStyle = state.status === 'cached' ? '#15181c' : '#ffffff';
    ctx.textAlign = 'left';
    ctx.fillText(label, w - tw, -titleH / 2 + 4);
    if (state.status === 'running' && state.message) {
      // Above the preview area (if any), so the overlay never hides it.
      const media = (node as Partial<KinegraphNode>).mediaHeight ?? 0;
      ctx.fillStyle = '#9fb3c8';
      ctx.fillText(state.message.slice(0, 60), 8, h - media - 4);
    }
  }
  const messages = [
    ...issues,
    ...(state?.status === 'error' && state.error ? [`${state.error.code}: ${state.error.message}`] : []),
  ];
  if (messages.length) {
    ctx.strokeStyle = '#ef5350';
    ctx.lineWidth = 2;
    ctx.strokeRect(-2, -titleH - 2, w + 4, h + titleH + 4);
    ctx.font = '12px Inter, system-ui, sans-serif';
    ctx.fillStyle = '#ff8a80';
    let y = h + 18;
    for (const m of messages.slice(0, 4))
      for (const line of wrap(ctx, m, Math.max(w, 260))) {
        ctx.fillText(line, 0, y);
        y += 15;
      }
  }
}

function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > width && line) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.slice(0, 4);
}

function roundRect(ctx: CanvasRenderingContext2D, x: number, y: number, w: number, h: number, r: number): void {
  ctx.beginPath();
  ctx.roundRect(x, y, w, h, r);
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}
