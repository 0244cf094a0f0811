/** The editor: a litegraph canvas bound to Kinegraph's catalogue, workflows, runs and live events. */
import { LGraph, LGraphCanvas, LGraphGroup, type LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import { WORKFLOW_FORMAT, type Workflow } from '@kinegraph/core';
import {
  graphToWorkflow,
  type KinegraphNodeData,
  type LiteGraphData,
  type PortLayout,
  workflowToGraph,
} from '../shared/convert.js';
import type { ErrorBody, RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { applyEvent, isFinished } from '../shared/run-state.js';
import { ApiError, call, mediaUrl } from './api.js';
import { type Catalog, layoutsOf } from './catalog.js';
import { matchingPort, type PortNeed, slotTypes } from './compat.js';
import { History } from './history.js';
import { type KinegraphNode, registerNodeTypes } from './node-types.js';
import { Overlays } from './overlays.js';

/** Graph units kept under a node for its preview or result. */
const MEDIA_HEIGHT = 220;

/** What the app tells the page around the canvas. */
export interface AppEvents {
  selection(node: KinegraphNode | undefined): void;
  runChanged(run: RunSnapshot | undefined, runs: RunSnapshot[], queue: readonly string[]): void;
  problems(list: { nodeId?: string; text: string }[]): void;
  toast(text: string, kind?: 'info' | 'error'): void;
  workflowChanged(name: string | undefined): void;
  /** The graph changed (an edit, undo, load): for the session store and the minimap. */
  edited(): void;
}

/**
 * litegraph's canvas, telling the app when it has finished handling a pointer release or a key: the moment a
 * drag, a new link, a reroute or a deletion is complete and can be recorded for undo. (litegraph stops
 * `pointerup` from bubbling, so a listener of the app's own would not hear it, or would run too early.)
 */
class EditorCanvas extends LGraphCanvas {
  afterInput?: () => void;

  override processMouseUp(e: PointerEvent): void {
    super.processMouseUp(e);
    this.afterInput?.();
  }

  override processKey(e: KeyboardEvent): void {
    super.processKey(e);
    // litegraph hears keyup on the whole document; typing in a form field is not a graph edit.
    if (!(e.target as Element | null)?.closest?.('input, textarea, select, dialog')) this.afterInput?.();
  }
}

/** A position on the page and in the graph, of a pointer event. */
export interface CanvasPoint {
  readonly clientX: number;
  readonly clientY: number;
  readonly graph: [number, number];
}

export class EditorApp {
  readonly graph = new LGraph();
  readonly canvas: LGraphCanvas;
  readonly layouts: (type: string) => PortLayout | undefined;
  readonly runs = new Map<string, RunSnapshot>();
  /** Ids of the runs waiting, in the order the server will start them. */
  queueOrder: readonly string[] = [];
  readonly history = new History();
  readonly overlays: Overlays;
  /** The run whose state the nodes show. */
  shownRunId: string | undefined;
  /** Validation problems per node id, from the last refused submission. */
  readonly issues = new Map<string, string[]>();
  #header: Pick<Workflow, 'name' | 'description' | 'metadata' | '$schema'> = {};

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
    // A released link opens the app's own search (see `onLinkReleased`), not litegraph's menu.
    LiteGraph.release_link_on_empty_shows_menu = false;
    const canvas = new EditorCanvas(canvasElement, this.graph);
    canvas.afterInput = () => this.changed();
    this.canvas = canvas;
    this.canvas.clear_background_color = '#16181d';
    this.canvas.show_info = false;
    this.canvas.render_canvas_border = false;
    // Keep text and widgets readable when a whole workflow is zoomed to fit.
    this.canvas.low_quality_zoom_threshold = 0.35;
    this.overlays = new Overlays(overlayLayer, this.canvas);
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

  /**
   * Calls `open` when a link being dragged is released on empty canvas, with what a new node must offer to
   * take the link, and a function that connects such a node.
   */
  onLinkReleased(open: (at: CanvasPoint, need: PortNeed, connect: (node: KinegraphNode) => boolean) => void): void {
    const connector = this.canvas.linkConnector;
    connector.events.addEventListener('dropped-on-canvas', (e) => {
      const first = connector.renderLinks[0];
      if (!first?.node || !first.fromSlot) return;
      const event = (e as CustomEvent<PointerEvent & { canvasX: number; canvasY: number }>).detail;
      const fromNode = first.node as LGraphNode;
      const fromSlot = first.fromSlot as { name: string; type: unknown };
      const afterRerouteId = first.fromReroute?.id;
      const toInput = connector.state.connectingTo === 'input';
      const need: PortNeed = toInput
        ? { side: 'input', type: String(fromSlot.type ?? '*') }
        : { side: 'output', types: slotTypes(fromSlot.type) };
      const at: CanvasPoint = {
        clientX: event.clientX,
        clientY: event.clientY,
        graph: [event.canvasX, event.canvasY],
      };
      open(at, need, (node) => {
        const port = matchingPort(this.catalog, node.description, need);
        if (port === undefined) return false;
        if (toInput) {
          const out = fromNode.outputs.findIndex((o) => o.name === fromSlot.name);
          return Boolean(fromNode.connect(out, node, port, afterRerouteId));
        }
        const out = node.outputs.findIndex((o) => o.name === port);
        const into = fromNode.inputs.findIndex((i) => i.name === fromSlot.name);
        return Boolean(node.connect(out, fromNode, into, afterRerouteId));
      });
    });
  }

  /** The run the nodes show. */
  shownRun(): RunSnapshot | undefined {
    return this.shownRunId ? this.runs.get(this.shownRunId) : undefined;
  }

  /** The run being executed now, if any. */
  runningRun(): RunSnapshot | undefined {
    for (const run of this.runs.values()) if (run.status === 'running') return run;
    return undefined;
  }

  node(id: string): KinegraphNode | undefined {
    return (this.graph.getNodeById(id) ?? undefined) as KinegraphNode | undefined;
  }

  selected(): KinegraphNode | undefined {
    const nodes = this.selectedNodes();
    return nodes.length === 1 ? nodes[0] : undefined;
  }

  selectedNodes(): KinegraphNode[] {
    return Object.values(this.canvas.selected_nodes ?? {}) as KinegraphNode[];
  }

  /** Where a page position is in graph units. */
  toGraph(clientX: number, clientY: number): [number, number] {
    const rect = this.canvas.canvas.getBoundingClientRect();
    const p = this.canvas.ds.convertCanvasToOffset([clientX - rect.left, clientY - rect.top]);
    return [p[0], p[1]];
  }

  /** The graph as a workflow, with which package provides each node type (for sharing). */
  workflow(): Workflow {
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

  /**
   * Replaces the graph with a workflow. History: `reset` starts over from this workflow (the default),
   * `record` makes the load itself an undoable step, `keep` leaves it (undo and redo). The nodes show the
   * states of `run` (by default none: a run's states belong to the graph it ran).
   */
  load(
    workflow: Workflow,
    options: { history?: 'reset' | 'record' | 'keep'; fit?: boolean; run?: string | undefined } = {},
  ): void {
    if (
      typeof workflow !== 'object' ||
      workflow === null ||
      (workflow as { format?: unknown }).format !== WORKFLOW_FORMAT ||
      typeof workflow.nodes !== 'object'
    ) {
      throw new Error(`This is not a ${WORKFLOW_FORMAT} document.`);
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
    const history = options.history ?? 'reset';
    if (history === 'reset') this.history.reset(state);
    else if (history === 'record') this.history.record(state);
    this.shownRunId = options.run;
    this.refreshRunView();
    this.events.selection(undefined);
    this.events.edited();
  }

  /**
   * Nodes whose type no installed plugin provides load as litegraph placeholders (which save exactly what
   * they loaded); they are drawn as missing, naming the package that provides them when the workflow says.
   */
  #markMissing(workflow: Workflow): void {
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

  /** Bounds of nodes (and groups) in graph units: [x, y, width, height], the room for media included. */
  boundsOf(nodes: readonly LGraphNode[], groups: readonly LGraphGroup[] = []): [number, number, number, number] {
    const rects = [
      ...nodes.map((n) => [n.pos[0], n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT, n.size[0], n.size[1] + 30] as const),
      ...groups.map((g) => [g.pos[0], g.pos[1], g.size[0], g.size[1]] as const),
    ];
    const minX = Math.min(...rects.map((r) => r[0]));
    const minY = Math.min(...rects.map((r) => r[1]));
    const maxX = Math.max(...rects.map((r) => r[0] + r[2]));
    const maxY = Math.max(...rects.map((r) => r[1] + r[3]));
    return [minX, minY, maxX - minX, maxY - minY];
  }

  /** Pans and zooms so the selection (or, with nothing selected, the whole graph) is in view. */
  fit(selectionOnly = false): void {
    const selected = selectionOnly ? this.selectedNodes() : [];
    const nodes = selected.length ? selected : this.graph._nodes;
    const groups = selected.length ? [] : (this.graph._groups as LGraphGroup[]);
    if (!nodes.length && !groups.length) return;
    const [minX, minY, bw, bh] = this.boundsOf(nodes, groups);
    // Results and previews are drawn under nodes that do not have them yet: keep room for them.
    const width = bw;
    const height = bh + (nodes.some((n) => (n as KinegraphNode).mediaHeight > 0) ? 0 : MEDIA_HEIGHT);
    const el = this.canvas.canvas;
    const w = el.clientWidth || el.width;
    const h = el.clientHeight || el.height;
    const scale = Math.min(1.1, Math.max(0.2, Math.min(w / (width + 120), h / (height + 120))));
    this.canvas.ds.scale = scale;
    this.canvas.ds.offset[0] = -minX + (w / scale - width) / 2;
    this.canvas.ds.offset[1] = -minY + (h / scale - height) / 2;
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

  /** Copies the selected nodes (or `node`) a little lower right, and selects the copies. */
  cloneNodes(nodes: readonly LGraphNode[]): void {
    const copies: LGraphNode[] = [];
    for (const node of nodes) {
      const copy = node.clone();
      if (!copy) continue;
      copy.pos = [node.pos[0] + 24, node.pos[1] + 24];
      this.graph.add(copy);
      copies.push(copy);
    }
    if (copies.length) this.canvas.selectNodes(copies);
    this.changed();
  }

  /** Deletes nodes, and the links into and out of them. */
  removeNodes(nodes: readonly LGraphNode[]): void {
    for (const node of nodes) this.graph.remove(node);
    this.events.selection(undefined);
    this.changed();
  }

  /**
   * Puts the selected nodes in a new group sized around them, and returns it (undefined with nothing
   * selected). The caller asks for its title.
   */
  groupSelection(title = 'Group'): LGraphGroup | undefined {
    const items = [...this.canvas.selectedItems].filter((i) => i instanceof LGraphGroup || 'type' in i);
    if (!items.length) return undefined;
    const group = new LGraphGroup(title);
    group.resizeTo(items, 12);
    this.graph.add(group);
    this.canvas.deselectAll();
    this.canvas.select(group);
    this.changed();
    return group;
  }

  /** The group whose title bar, or inside, is at a graph position. */
  groupAt(pos: [number, number]): LGraphGroup | undefined {
    return this.graph.getGroupOnPos(pos[0], pos[1]) ?? undefined;
  }

  /** Where a graph position is on the page. */
  toPage(pos: ArrayLike<number>): { x: number; y: number } {
    const c = this.canvas.ds.convertOffsetToCanvas([pos[0]!, pos[1]!]);
    const rect = this.canvas.canvas.getBoundingClientRect();
    return { x: rect.left + c[0], y: rect.top + c[1] };
  }

  /** Call after an edit: records history and redraws. */
  changed(): void {
    this.history.record(JSON.stringify(this.workflow()));
    this.canvas.setDirty(true, true);
    this.events.edited();
  }

  undo(): void {
    const state = this.history.undo();
    if (state) this.load(JSON.parse(state) as Workflow, { history: 'keep', fit: false, run: this.shownRunId });
  }

  redo(): void {
    const state = this.history.redo();
    if (state) this.load(JSON.parse(state) as Workflow, { history: 'keep', fit: false, run: this.shownRunId });
  }

  /**
   * Posts the workflow; shows validation problems on their nodes when the server refuses it. `front` puts
   * it at the head of the queue; `targets` runs only those nodes and what they need.
   */
  async queue(options: { front?: boolean; targets?: readonly string[] } = {}): Promise<RunSnapshot | undefined> {
    const workflow = { ...this.workflow(), ...(this.#header.name ? { name: this.#header.name } : {}) };
    this.issues.clear();
    this.events.problems([]);
    try {
      const { run } = await call<{ id: string; run: RunSnapshot }>('/api/runs', {
        method: 'POST',
        json: {
          workflow,
          ...(options.front ? { front: true } : {}),
          ...(options.targets?.length ? { targets: options.targets } : {}),
        },
      });
      // The live socket may have told us about this run (even its end) before this reply arrived: its state
      // is newer than the snapshot the reply carries, which must not put a finished run back to "running".
      if (!this.runs.has(run.id)) this.#store(run);
      this.shownRunId = run.id;
      this.refreshRunView();
      this.events.edited();
      return run;
    } catch (error) {
      if (error instanceof ApiError && error.body.issues) this.#showIssues(error.body);
      else this.events.toast(error instanceof Error ? error.message : String(error), 'error');
      this.canvas.setDirty(true, true);
      return undefined;
    }
  }

  /** Cancels one run (queued or running). */
  async cancel(runId: string): Promise<void> {
    const run = this.runs.get(runId);
    if (!run || isFinished(run)) return;
    await call(`/api/runs/${encodeURIComponent(runId)}/cancel`, { method: 'POST' }).catch((e: Error) =>
      this.events.toast(e.message, 'error'),
    );
  }

  /** Moves a queued run to the head of the queue. */
  async runNext(runId: string): Promise<void> {
    await call(`/api/runs/${encodeURIComponent(runId)}/run-next`, { method: 'POST' }).catch((e: Error) =>
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
      this.queueOrder = message.queue ?? [];
      // A run that the server no longer knows is shown no more; no other run is picked in its place, as its
      // states would belong to another graph.
      if (this.shownRunId && !this.runs.has(this.shownRunId)) this.shownRunId = undefined;
    } else if (message.kind === 'run') {
      this.#store(message.run);
    } else if (message.kind === 'queue') {
      this.queueOrder = message.queue;
    } else if (message.kind === 'forget') {
      for (const id of message.ids) this.runs.delete(id);
      if (this.shownRunId && !this.runs.has(this.shownRunId)) this.shownRunId = undefined;
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

  /** Shows a run's states, previews and results on the nodes (undefined: none). */
  showRun(runId: string | undefined): void {
    this.shownRunId = runId;
    this.refreshRunView();
    this.events.edited();
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
      else this.overlays.remove(id);
    }
    this.events.runChanged(run, [...this.runs.values()], this.queueOrder);
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
