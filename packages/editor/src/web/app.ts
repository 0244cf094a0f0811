/** The editor: a litegraph canvas bound to Kinegraph's catalogue, workflows, runs and live events. */
import { LGraph, LGraphCanvas, type LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import {
  graphToWorkflow,
  type KinegraphNodeData,
  type LiteGraphData,
  type PortLayout,
  type WorkflowDoc,
  workflowToGraph,
} from '../shared/convert.js';
import type { ErrorBody, RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { applyEvent, isFinished } from '../shared/run-state.js';
import { ApiError, call, mediaUrl } from './api.js';
import { type Catalog, layoutsOf } from './catalog.js';
import { History } from './history.js';
import { type KinegraphNode, registerNodeTypes } from './node-types.js';
import { Overlays } from './overlays.js';

/** Graph units kept under a node for its preview or result. */
const MEDIA_HEIGHT = 220;

/** What the app tells the page around the canvas. */
export interface AppEvents {
  selection(node: KinegraphNode | undefined): void;
  runChanged(run: RunSnapshot | undefined, runs: RunSnapshot[]): void;
  problems(list: { nodeId?: string; text: string }[]): void;
  toast(text: string, kind?: 'info' | 'error'): void;
  workflowChanged(name: string | undefined): void;
}

export class EditorApp {
  readonly graph = new LGraph();
  readonly canvas: LGraphCanvas;
  readonly layouts: (type: string) => PortLayout | undefined;
  readonly runs = new Map<string, RunSnapshot>();
  readonly history = new History();
  readonly overlays: Overlays;
  /** The run whose state the nodes show. */
  shownRunId: string | undefined;
  /** Validation problems per node id, from the last refused submission. */
  readonly issues = new Map<string, string[]>();
  #header: Pick<WorkflowDoc, 'name' | 'description' | 'metadata' | '$schema'> = {};

  constructor(
    readonly catalog: Catalog,
    canvasElement: HTMLCanvasElement,
    overlayLayer: HTMLElement,
    private readonly events: AppEvents,
  ) {
    this.layouts = layoutsOf(catalog);
    registerNodeTypes(catalog, {
      state: (id) => this.shownRun()?.nodes[id],
      issues: (id) => this.issues.get(id) ?? [],
      changed: () => this.changed(),
    });
    LiteGraph.release_link_on_empty_shows_menu = true;
    this.canvas = new LGraphCanvas(canvasElement, this.graph);
    this.canvas.clear_background_color = '#16181d';
    this.canvas.show_info = false;
    this.canvas.render_canvas_border = false;
    // Keep text and widgets readable when a whole workflow is zoomed to fit.
    this.canvas.low_quality_zoom_threshold = 0.35;
    this.overlays = new Overlays(overlayLayer, this.canvas);
    this.canvas.onDrawForeground = () => this.overlays.layout((id) => this.node(id));
    this.canvas.onNodeSelected = (node) => this.events.selection(node as KinegraphNode);
    this.canvas.onNodeDeselected = () => this.events.selection(this.selected());
    this.graph.onNodeAdded = (node) => this.#nodeAdded(node);
    this.#explainRefusedLinks();
  }

  // litegraph silently ignores a link dropped on an input of another type; say why instead.
  #explainRefusedLinks(): void {
    const connector = this.canvas.linkConnector;
    connector.events.addEventListener('after-drop-links', (e) => {
      const { canvasX, canvasY } = (e as CustomEvent<{ event: { canvasX: number; canvasY: number } }>).detail.event;
      const node = this.graph.getNodeOnPos(canvasX, canvasY);
      const input = node?.getInputOnPos([canvasX, canvasY]);
      const from = connector.renderLinks[0]?.fromSlot?.type;
      if (!node || !input || from === undefined || LiteGraph.isValidConnection(from, input.type)) return;
      this.events.toast(
        `Cannot connect ${String(from ?? 'this output')} to "${input.name}", which takes ${String(input.type).split(',').join(' or ')}.`,
        'error',
      );
    });
  }

  /** The run the nodes show. */
  shownRun(): RunSnapshot | undefined {
    return this.shownRunId ? this.runs.get(this.shownRunId) : undefined;
  }

  node(id: string): KinegraphNode | undefined {
    return (this.graph.getNodeById(id) ?? undefined) as KinegraphNode | undefined;
  }

  selected(): KinegraphNode | undefined {
    const nodes = Object.values(this.canvas.selected_nodes ?? {});
    return nodes.length === 1 ? (nodes[0] as KinegraphNode) : undefined;
  }

  /** The graph as a workflow, with which package provides each node type (for sharing). */
  workflow(): WorkflowDoc {
    const doc = graphToWorkflow(this.graph.serialize() as unknown as LiteGraphData);
    // The room kept for a preview or result is the editor's, not the workflow's: save the node's own size.
    for (const [id, n] of Object.entries(doc.nodes)) {
      const node = this.node(id);
      if (!node?.mediaHeight || !n.ui?.size) continue;
      const size: [number, number] = [n.ui.size[0], n.ui.size[1] - node.mediaHeight];
      const auto = (node.properties.kinegraph as KinegraphNodeData | undefined)?.auto?.size;
      if (auto && Math.abs(auto[0] - size[0]) < 1e-6 && Math.abs(auto[1] - size[1]) < 1e-6) delete n.ui.size;
      else n.ui.size = size;
      if (!Object.keys(n.ui).length) delete n.ui;
    }
    const nodeTypes: Record<string, { package: string; version?: string }> = {
      ...((doc.metadata?.nodeTypes as Record<string, { package: string; version?: string }>) ?? {}),
    };
    for (const n of Object.values(doc.nodes)) {
      const d = this.catalog.nodes.find((c) => c.type === n.type);
      if (d) nodeTypes[n.type] = { package: d.package, ...(d.packageVersion ? { version: d.packageVersion } : {}) };
    }
    return { ...doc, metadata: { ...(doc.metadata ?? {}), nodeTypes } };
  }

  /** Replaces the graph with a workflow. */
  load(workflow: WorkflowDoc, options: { resetHistory?: boolean; fit?: boolean } = {}): void {
    if (
      typeof workflow !== 'object' ||
      workflow === null ||
      (workflow as { format?: unknown }).format !== 'kinegraph/workflow@1' ||
      typeof workflow.nodes !== 'object'
    ) {
      throw new Error('This is not a kinegraph/workflow@1 document.');
    }
    const data = workflowToGraph(workflow, this.layouts);
    this.overlays.clear();
    this.graph.configure(data as never);
    for (const node of this.graph._nodes as KinegraphNode[]) {
      // Nodes the workflow gave no size get the size their ports and widgets need.
      const kg = node.properties.kinegraph as KinegraphNodeData | undefined;
      if (kg?.auto?.size) {
        const size = node.computeSize();
        size[0] = Math.max(size[0], 260);
        node.size = size;
        kg.auto.size = [size[0], size[1]];
      }
    }
    this.#markMissing(workflow);
    this.#header = {
      name: workflow.name,
      description: workflow.description,
      metadata: workflow.metadata,
      $schema: workflow.$schema,
    };
    this.issues.clear();
    this.events.problems([]);
    this.events.workflowChanged(workflow.name);
    if (options.fit !== false) this.fit();
    const state = JSON.stringify(this.workflow());
    if (options.resetHistory !== false) {
      this.history.reset(state);
      // A newly opened workflow starts clean: the last run's states belong to the graph it replaced.
      this.shownRunId = undefined;
    }
    this.refreshRunView();
    this.events.selection(undefined);
  }

  /**
   * Nodes whose type no installed plugin provides load as litegraph placeholders (which save exactly what
   * they loaded); they are drawn as missing, naming the package that provides them when the workflow says.
   */
  #markMissing(workflow: WorkflowDoc): void {
    const provenance = (workflow.metadata?.nodeTypes ?? {}) as Record<string, { package?: string; version?: string }>;
    for (const node of this.graph._nodes) {
      if (!(node as { has_errors?: boolean }).has_errors) continue;
      const source = provenance[node.type ?? ''];
      node.title = `Missing: ${node.type}`;
      node.color = '#7a2b2b';
      node.bgcolor = '#2a1c1c';
      node.onDrawForeground = (ctx: CanvasRenderingContext2D) => {
        ctx.font = '12px Inter, system-ui, sans-serif';
        ctx.fillStyle = '#ffab91';
        ctx.fillText(
          source?.package
            ? `Install ${source.package}${source.version ? `@${source.version}` : ''}`
            : 'No installed plugin provides this type.',
          8,
          node.size[1] + 18,
        );
      };
    }
  }

  /** Pans and zooms so the whole graph is in view. */
  fit(): void {
    const nodes = this.graph._nodes;
    if (!nodes.length) return;
    const minX = Math.min(...nodes.map((n) => n.pos[0]));
    const minY = Math.min(...nodes.map((n) => n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT));
    const maxX = Math.max(...nodes.map((n) => n.pos[0] + n.size[0]));
    const maxY = Math.max(...nodes.map((n) => n.pos[1] + n.size[1] + MEDIA_HEIGHT));
    const el = this.canvas.canvas;
    const w = el.clientWidth || el.width;
    const h = el.clientHeight || el.height;
    const scale = Math.min(1.1, Math.max(0.25, Math.min(w / (maxX - minX + 120), h / (maxY - minY + 120))));
    this.canvas.ds.scale = scale;
    this.canvas.ds.offset[0] = -minX + (w / scale - (maxX - minX)) / 2;
    this.canvas.ds.offset[1] = -minY + (h / scale - (maxY - minY)) / 2;
    this.canvas.setDirty(true, true);
  }

  /** Adds a node of `type` at a graph position (default: the middle of the view). */
  addNode(type: string, pos?: [number, number]): KinegraphNode | undefined {
    const node = LiteGraph.createNode(type) as KinegraphNode | null;
    if (!node) return undefined;
    node.id = this.freshId(type);
    if (pos) node.pos = pos;
    else {
      const el = this.canvas.canvas;
      const center = this.canvas.ds.convertCanvasToOffset([el.clientWidth / 2, el.clientHeight / 2]);
      node.pos = [center[0] - node.size[0] / 2, center[1] - node.size[1] / 2];
    }
    this.graph.add(node);
    this.canvas.selectNode(node);
    this.changed();
    return node;
  }

  /** A readable, unused workflow node id for a new node of `type` (`stunet-sample`, `stunet-sample-2`, ...). */
  freshId(type: string): string {
    const base =
      (type.split('/').pop() ?? 'node').replace(/[^A-Za-z0-9_-]/g, '-').replace(/^[^A-Za-z_]+/, '') || 'node';
    let id = base;
    for (let i = 2; this.graph.getNodeById(id); i++) id = `${base}-${i}`;
    return id;
  }

  // Pasted and cloned nodes come in with numeric ids; give them readable ones before anything refers to them.
  #nodeAdded(node: LGraphNode): void {
    if (typeof node.id === 'number' && node.type) {
      const fresh = this.freshId(node.type);
      const graph = this.graph as unknown as { _nodes_by_id: Record<string | number, LGraphNode> };
      delete graph._nodes_by_id[node.id];
      node.id = fresh;
      graph._nodes_by_id[fresh] = node;
    }
  }

  /** Call after an edit: records history and redraws. */
  changed(): void {
    this.history.record(JSON.stringify(this.workflow()));
    this.canvas.setDirty(true, true);
  }

  undo(): void {
    const state = this.history.undo();
    if (state) this.load(JSON.parse(state) as WorkflowDoc, { resetHistory: false, fit: false });
  }

  redo(): void {
    const state = this.history.redo();
    if (state) this.load(JSON.parse(state) as WorkflowDoc, { resetHistory: false, fit: false });
  }

  /** Posts the workflow; shows validation problems on their nodes when the server refuses it. */
  async queue(): Promise<RunSnapshot | undefined> {
    const workflow = { ...this.workflow(), ...(this.#header.name ? { name: this.#header.name } : {}) };
    this.issues.clear();
    this.events.problems([]);
    try {
      const { run } = await call<{ id: string; run: RunSnapshot }>('/api/runs', { method: 'POST', json: workflow });
      // The live socket may have told us about this run (even its end) before this reply arrived: its state
      // is newer than the snapshot the reply carries, which must not put a finished run back to "running".
      if (!this.runs.has(run.id)) this.#store(run);
      this.shownRunId = run.id;
      this.refreshRunView();
      return run;
    } catch (error) {
      if (error instanceof ApiError && error.body.issues) this.#showIssues(error.body);
      else this.events.toast(error instanceof Error ? error.message : String(error), 'error');
      this.canvas.setDirty(true, true);
      return undefined;
    }
  }

  async cancel(): Promise<void> {
    const run = this.shownRun();
    if (!run || isFinished(run)) return;
    await call(`/api/runs/${encodeURIComponent(run.id)}/cancel`, { method: 'POST' }).catch((e: Error) =>
      this.events.toast(e.message, 'error'),
    );
  }

  #showIssues(body: ErrorBody): void {
    const list: { nodeId?: string; text: string }[] = [];
    for (const issue of body.issues ?? []) {
      const text = `${issue.code}: ${issue.message}`;
      list.push({
        ...(issue.nodeId !== undefined ? { nodeId: issue.nodeId } : {}),
        text: `${text} \u2014 ${issue.hint}`,
      });
      if (issue.nodeId !== undefined) this.issues.set(issue.nodeId, [...(this.issues.get(issue.nodeId) ?? []), text]);
    }
    this.events.problems(list);
    this.events.toast(body.error.message, 'error');
  }

  /** Applies one live message. */
  onMessage(message: ServerMessage): void {
    if (message.kind === 'snapshot') {
      this.runs.clear();
      for (const run of message.runs) this.runs.set(run.id, run);
      // After a reconnect, keep showing our run; on first load, show the newest one.
      if (!this.shownRunId || !this.runs.has(this.shownRunId)) this.shownRunId = message.runs.at(-1)?.id;
    } else if (message.kind === 'run') {
      this.#store(message.run);
    } else {
      const run = this.runs.get(message.runId);
      if (!run) return;
      applyEvent(run, message.event);
    }
    this.refreshRunView();
  }

  #store(run: RunSnapshot): void {
    const known = this.runs.get(run.id);
    // A `run` message carries the whole state; keep the newer previews we may already have folded in.
    this.runs.set(
      run.id,
      known
        ? {
            ...run,
            nodes: Object.fromEntries(
              Object.entries(run.nodes).map(([id, n]) => [
                id,
                {
                  ...n,
                  ...((n.preview ?? known.nodes[id]?.preview)
                    ? { preview: n.preview ?? known.nodes[id]!.preview! }
                    : {}),
                },
              ]),
            ),
          }
        : run,
    );
  }

  /** Puts the shown run's previews and results on their nodes and redraws. */
  refreshRunView(): void {
    const run = this.shownRun();
    for (const node of this.graph._nodes as KinegraphNode[]) {
      const id = String(node.id);
      const state = run?.nodes[id];
      const file = state?.files?.find((f) => /\.(mp4|webm|gif|png)$/i.test(f));
      if (file) this.#media(node, file);
      else if (state?.preview) this.#preview(node, `data:${state.preview.mime};base64,${state.preview.data}`);
    }
    this.events.runChanged(run, [...this.runs.values()]);
    this.canvas.setDirty(true, true);
  }

  #reserve(node: KinegraphNode): void {
    if (node.mediaHeight > 0) return;
    node.mediaHeight = MEDIA_HEIGHT;
    node.size[1] = node.computeSize()[1] + MEDIA_HEIGHT;
  }

  #preview(node: KinegraphNode, src: string): void {
    this.#reserve(node);
    let img = this.overlays.get(String(node.id));
    if (!(img instanceof HTMLImageElement)) {
      img = document.createElement('img');
      img.className = 'preview';
      this.overlays.set(String(node.id), img);
    }
    if ((img as HTMLImageElement).src !== src) (img as HTMLImageElement).src = src;
  }

  #media(node: KinegraphNode, file: string): void {
    this.#reserve(node);
    const src = mediaUrl(file);
    const isVideo = /\.(mp4|webm)$/i.test(file);
    const existing = this.overlays.get(String(node.id));
    if (existing && existing.dataset.src === src) return;
    const el = isVideo
      ? Object.assign(document.createElement('video'), {
          muted: true,
          loop: true,
          autoplay: true,
          playsInline: true,
          controls: true,
        })
      : document.createElement('img');
    el.dataset.src = src;
    el.className = 'result';
    el.src = src;
    this.overlays.set(String(node.id), el);
  }
}
