/** The editor: a litegraph canvas bound to Kinegraph's catalogue, workflows, runs and live events. */
import { LGraph, LGraphCanvas, LGraphGroup, type LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import { type BlueprintDescription, type Subgraph, WORKFLOW_FORMAT, type Workflow } from '@kinegraph/core';
import {
  graphToWorkflow,
  type KinegraphNodeData,
  LITEGRAPH_MODE,
  type LiteGraphData,
  type PortLayout,
  workflowToGraph,
} from '../shared/convert.js';
import type { ErrorBody, NodeRunState, RunSnapshot, ServerMessage } from '../shared/protocol.js';
import { applyEvent, isFinished } from '../shared/run-state.js';
import {
  applySubgraphView,
  convertToSubgraph,
  fillOpenSlots,
  INPUTS_NODE_ID,
  OUTPUTS_NODE_ID,
  subgraphIdOf,
  subgraphPorts,
  subgraphView,
  uniqueName,
  unpackSubgraph,
} from '../shared/subgraph-ops.js';
import { ApiError, call, mediaUrl } from './api.js';
import { type Catalog, layoutsOf } from './catalog.js';
import { matchingPort, type PortNeed, slotTypes } from './compat.js';
import { History } from './history.js';
import { type KinegraphNode, registerNodeTypes } from './node-types.js';
import { Overlays } from './overlays.js';
import { ioLayouts, portsFor, registerIoTypes, registerSubgraphTypes, subgraphLayout } from './subgraphs.js';

/** Graph units kept under a node for its preview or result. */
const MEDIA_HEIGHT = 220;

/** What the app tells the page around the canvas. */
export interface AppEvents {
  selection(node: KinegraphNode | undefined): void;
  runChanged(
    run: RunSnapshot | undefined,
    runs: RunSnapshot[],
    queue: readonly string[],
    features: readonly string[],
  ): void;
  problems(list: { nodeId?: string; text: string }[]): void;
  toast(text: string, kind?: 'info' | 'error'): void;
  workflowChanged(name: string | undefined): void;
  /** The graph changed (an edit, undo, load): for the session store and the minimap. */
  edited(): void;
  /** A subgraph was opened or closed: the path from the workflow to what the canvas shows. */
  pathChanged(path: readonly OpenSubgraph[]): void;
}

/** One open level: the instance that was opened and its subgraph. */
export interface OpenSubgraph {
  readonly instanceId: string;
  readonly subgraphId: string;
  readonly name: string;
}

/** A state of the undo history: the workflow, and which subgraph was open. */
interface HistoryState {
  readonly w: Workflow;
  readonly p: readonly OpenSubgraph[];
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
  /** Ids of the runs waiting, in the order the server will start them (when it says). */
  queueOrder: readonly string[] = [];
  /** What the server supports beyond the basics (`run-next`). */
  features: readonly string[] = [];
  readonly history = new History();
  readonly overlays: Overlays;
  /** The run whose state the nodes show. */
  shownRunId: string | undefined;
  /** Validation problems per node id (ids as the run names them), from the last refused submission. */
  readonly issues = new Map<string, string[]>();
  #header: Pick<Workflow, 'name' | 'description' | 'metadata' | '$schema'> = {};
  /** The workflow's subgraphs (the open one's edits are merged in by `workflow()`). */
  #subgraphs: Record<string, Subgraph> = {};
  /** The workflow's top level while a subgraph is open (the canvas shows the subgraph). */
  #rootDoc: Workflow | undefined;
  /** Open subgraphs, outermost first; empty when the canvas shows the workflow itself. */
  readonly path: OpenSubgraph[] = [];
  /** Layouts of the open subgraph's input and output nodes. */
  #ioLayouts: Record<string, PortLayout> = {};
  /** Port layouts for the conversion: the open subgraph's input and output nodes, subgraphs, the catalogue. */
  readonly #layoutOf = (type: string): PortLayout | undefined =>
    this.#ioLayouts[type] ?? subgraphLayout(type, this.#subgraphs, this.catalog) ?? this.layouts(type);

  constructor(
    readonly catalog: Catalog,
    canvasElement: HTMLCanvasElement,
    overlayLayer: HTMLElement,
    private readonly events: AppEvents,
  ) {
    this.layouts = layoutsOf(catalog);
    registerNodeTypes(catalog, this.#hooks);
    registerIoTypes();
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

  readonly #hooks = {
    state: (id: string) => this.stateOf(id),
    issues: (id: string) => this.issuesOf(id),
    changed: () => this.changed(),
  };

  /** The prefix of run node ids at the open level: `<instance>:` per open subgraph. */
  prefix(): string {
    return this.path.map((p) => `${p.instanceId}:`).join('');
  }

  /**
   * The state of a node of the canvas in the shown run. A subgraph instance's is its inner nodes' states
   * summed up: running while any runs, failed if any failed, cached when all were.
   */
  stateOf(id: string): NodeRunState | undefined {
    const run = this.shownRun();
    if (!run) return undefined;
    const full = `${this.prefix()}${id}`;
    const own = run.nodes[full];
    if (own) return own;
    const inner = Object.entries(run.nodes)
      .filter(([k]) => k.startsWith(`${full}:`))
      .map(([, n]) => n);
    return inner.length ? summarize(inner) : undefined;
  }

  /** Validation problems of a node of the canvas (an instance's include its inner nodes'). */
  issuesOf(id: string): string[] {
    const full = `${this.prefix()}${id}`;
    return [...this.issues.entries()].filter(([k]) => k === full || k.startsWith(`${full}:`)).flatMap(([, v]) => v);
  }

  /** The id, on the canvas, of a node the run or validation names (its instance when it is inside one). */
  canvasIdOf(runNodeId: string): string | undefined {
    const prefix = this.prefix();
    if (!runNodeId.startsWith(prefix)) return undefined;
    return runNodeId.slice(prefix.length).split(':')[0];
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

  /** The level the canvas shows (the workflow, or the open subgraph's view) as a document. */
  #levelDoc(): Workflow {
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
    return doc;
  }

  /** The subgraphs, with the open one's current edits. */
  #currentSubgraphs(): Record<string, Subgraph> {
    const open = this.path.at(-1);
    if (!open) return this.#subgraphs;
    return applySubgraphView(
      { format: WORKFLOW_FORMAT, nodes: {}, subgraphs: this.#subgraphs },
      open.subgraphId,
      this.#levelDoc(),
    ).subgraphs!;
  }

  /** The graph as a workflow (the whole workflow, also while a subgraph is open), with which package provides each node type (for sharing). */
  workflow(): Workflow {
    const subgraphs = this.#currentSubgraphs();
    const top = this.path.length ? this.#rootDoc! : this.#levelDoc();
    const doc: Workflow = { ...top };
    if (Object.keys(subgraphs).length) doc.subgraphs = structuredClone(subgraphs);
    else delete doc.subgraphs;
    const nodeTypes: Record<string, { package: string; version?: string }> = {
      ...((doc.metadata?.nodeTypes as Record<string, { package: string; version?: string }>) ?? {}),
    };
    const every = [...Object.values(doc.nodes), ...Object.values(subgraphs).flatMap((s) => Object.values(s.nodes))];
    for (const n of every) {
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
    options: {
      history?: 'reset' | 'record' | 'keep';
      fit?: boolean;
      run?: string | undefined;
      path?: readonly OpenSubgraph[];
    } = {},
  ): void {
    if (
      typeof workflow !== 'object' ||
      workflow === null ||
      (workflow as { format?: unknown }).format !== WORKFLOW_FORMAT ||
      typeof workflow.nodes !== 'object'
    ) {
      throw new Error(`This is not a ${WORKFLOW_FORMAT} document.`);
    }
    this.#subgraphs = structuredClone(workflow.subgraphs ?? {});
    this.path.length = 0;
    this.#rootDoc = undefined;
    this.#ioLayouts = {};
    registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
    this.#showLevel(workflow);
    this.#header = {
      name: workflow.name,
      description: workflow.description,
      metadata: workflow.metadata,
      $schema: workflow.$schema,
    };
    this.issues.clear();
    this.events.problems([]);
    this.events.workflowChanged(workflow.name);
    // Undo and redo come back into the subgraph that was open.
    for (const open of options.path ?? []) if (!this.openSubgraph(open.instanceId, { fit: false, quiet: true })) break;
    if (options.fit !== false) this.fit();
    const state = this.#state();
    const history = options.history ?? 'reset';
    if (history === 'reset') this.history.reset(state);
    else if (history === 'record') this.history.record(state);
    this.shownRunId = options.run;
    this.refreshRunView();
    void this.#completeShownRun();
    this.events.selection(undefined);
    this.events.pathChanged(this.path);
    this.events.edited();
  }

  /** Puts one level's document on the canvas. */
  #showLevel(doc: Workflow): void {
    const data = workflowToGraph(doc, this.#layoutOf);
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
    this.#markMissing(doc);
  }

  #state(): string {
    const state: HistoryState = { w: this.workflow(), p: this.path };
    return JSON.stringify(state);
  }

  /**
   * Opens the subgraph of instance `instanceId` (a node of the level shown): the canvas shows its nodes,
   * with nodes for its inputs and outputs. False when the node is not an instance.
   */
  openSubgraph(instanceId: string, options: { fit?: boolean; quiet?: boolean } = {}): boolean {
    const node = this.node(instanceId);
    const subgraphId = node?.type ? subgraphIdOf(node.type) : undefined;
    if (!node || subgraphId === undefined || !this.#subgraphs[subgraphId]) return false;
    const whole = this.workflow();
    this.#subgraphs = whole.subgraphs ?? {};
    if (!this.path.length) {
      const { subgraphs: _subgraphs, ...top } = whole;
      this.#rootDoc = { ...top, metadata: this.#header.metadata };
      if (this.#header.metadata === undefined) delete this.#rootDoc.metadata;
    }
    this.path.push({ instanceId, subgraphId, name: this.#subgraphs[subgraphId]!.name });
    this.#showSubgraph(subgraphId, options.fit !== false);
    if (!options.quiet) this.#afterNavigation();
    return true;
  }

  /** Closes open subgraphs down to `depth` (0: the workflow itself). */
  closeSubgraph(depth = this.path.length - 1): void {
    if (depth < 0 || depth >= this.path.length) return;
    this.#subgraphs = this.#currentSubgraphs();
    const leaving = this.path[depth]!.instanceId;
    this.path.length = depth;
    if (!depth) {
      const root = this.#rootDoc!;
      this.#rootDoc = undefined;
      this.#ioLayouts = {};
      registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
      this.#showLevel(root);
    } else this.#showSubgraph(this.path.at(-1)!.subgraphId, false);
    this.fit();
    const node = this.node(leaving);
    if (node) this.canvas.selectNode(node);
    this.#afterNavigation();
  }

  #showSubgraph(subgraphId: string, fit: boolean): void {
    registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
    const def = this.#subgraphs[subgraphId]!;
    const ports = subgraphPorts(this.#subgraphs, subgraphId, portsFor(this.catalog, this.#subgraphs)) ?? {
      inputs: {},
      outputs: {},
    };
    this.#ioLayouts = ioLayouts(def, ports);
    this.#showLevel(subgraphView({ format: WORKFLOW_FORMAT, nodes: {}, subgraphs: this.#subgraphs }, subgraphId));
    if (fit) this.fit();
  }

  #afterNavigation(): void {
    this.refreshRunView();
    this.events.selection(this.selected());
    this.events.pathChanged(this.path);
    // Opening and closing change nothing, but undo must come back to the same level.
    this.history.replaceTop(this.#state());
    this.events.edited();
  }

  /** Ids of nodes of the level shown, as the run names them. */
  runIdOf(id: string): string {
    return `${this.prefix()}${id}`;
  }

  /**
   * Puts the selected nodes of the level shown in a new subgraph and selects its instance. `params` are
   * exposed on the instance.
   */
  convertSelection(name: string, params: readonly { node: string; param: string }[]): string | undefined {
    const ids = this.selectedNodes()
      .map((n) => String(n.id))
      .filter((id) => id !== INPUTS_NODE_ID && id !== OUTPUTS_NODE_ID);
    if (!ids.length) return undefined;
    const ports = portsFor(this.catalog, this.#subgraphs);
    const level = this.#levelDoc();
    const { workflow, instanceId, subgraphId } = convertToSubgraph(
      { ...level, subgraphs: this.#currentSubgraphs() },
      ids,
      { name, params, portsOf: ports },
    );
    this.#replaceLevel(workflow, workflow.subgraphs ?? {});
    const node = this.node(instanceId);
    if (node) this.canvas.selectNode(node);
    this.changed();
    void subgraphId;
    return instanceId;
  }

  /** Replaces instance `instanceId` of the level shown by the nodes of its subgraph, and selects them. */
  unpack(instanceId: string): void {
    const level = this.#levelDoc();
    const { workflow, nodeIds } = unpackSubgraph({ ...level, subgraphs: this.#currentSubgraphs() }, instanceId);
    this.#replaceLevel(workflow, workflow.subgraphs ?? {});
    this.canvas.selectNodes(nodeIds.map((id) => this.node(id)).filter((n): n is KinegraphNode => n !== undefined));
    this.changed();
  }

  /** Shows an edited version of the level shown (its nodes), with the workflow's subgraphs as they now are. */
  #replaceLevel(doc: Workflow, subgraphs: Record<string, Subgraph>): void {
    const open = this.path.at(-1);
    this.#subgraphs = structuredClone(subgraphs);
    if (open) {
      // The open subgraph's new inside is `doc`: write it back, then show it again.
      this.#subgraphs = applySubgraphView(
        { format: WORKFLOW_FORMAT, nodes: {}, subgraphs: this.#subgraphs },
        open.subgraphId,
        doc,
      ).subgraphs!;
      this.#showSubgraph(open.subgraphId, false);
    } else {
      registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
      const { subgraphs: _subgraphs, ...top } = doc;
      this.#showLevel(top as Workflow);
    }
    this.refreshRunView();
  }

  /** The definitions of the workflow's subgraphs (with the open one's edits). */
  subgraphs(): Readonly<Record<string, Subgraph>> {
    return this.#currentSubgraphs();
  }

  /** Whether param `param` of inner node `nodeId` is exposed on the open subgraph's instances. */
  isExposed(nodeId: string, param: string): boolean {
    const open = this.path.at(-1);
    const def = open ? this.#subgraphs[open.subgraphId] : undefined;
    return Object.values(def?.params ?? {}).some((p) => p.node === nodeId && p.param === param);
  }

  /** Exposes (or stops exposing) param `param` of inner node `nodeId` on the open subgraph's instances. */
  setExposed(nodeId: string, param: string, exposed: boolean): void {
    const open = this.path.at(-1);
    if (!open) return;
    const subgraphs = this.#currentSubgraphs();
    const def = structuredClone(subgraphs[open.subgraphId]!);
    const params = { ...(def.params ?? {}) };
    const current = Object.entries(params).find(([, p]) => p.node === nodeId && p.param === param)?.[0];
    if (exposed && !current) {
      let name = param;
      for (let i = 2; params[name]; i++) name = `${param}_${i}`;
      params[name] = { node: nodeId, param };
    } else if (!exposed && current) delete params[current];
    def.params = params;
    if (!Object.keys(params).length) delete def.params;
    this.#subgraphs = { ...subgraphs, [open.subgraphId]: def };
    registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
    this.changed();
  }

  /**
   * Changes the whole workflow from inside the open subgraph (renaming or removing one of its ports, which
   * touches its instances too), staying where the canvas is.
   */
  editOpenSubgraph(edit: (whole: Workflow, subgraphId: string) => Workflow): void {
    const open = this.path.at(-1);
    if (!open) return;
    let next: Workflow;
    try {
      next = edit(this.workflow(), open.subgraphId);
    } catch (error) {
      this.events.toast((error as Error).message, 'error');
      return;
    }
    const ds = this.canvas.ds;
    const view = { scale: ds.scale, offset: [ds.offset[0], ds.offset[1]] };
    this.load(next, { history: 'keep', fit: false, path: [...this.path], run: this.shownRunId });
    ds.scale = view.scale;
    ds.offset[0] = view.offset[0]!;
    ds.offset[1] = view.offset[1]!;
    this.changed();
  }

  /** Sets (or, when all already have it, clears) a mode on nodes; input and output nodes are left alone. */
  toggleMode(nodes: readonly LGraphNode[], mode: 'bypass' | 'mute'): void {
    const value = LITEGRAPH_MODE[mode];
    const targets = nodes.filter((n) => n.type && !n.type.startsWith('kinegraph-editor/'));
    if (!targets.length) return;
    const all = targets.every((n) => n.mode === value);
    for (const n of targets) n.mode = all ? LITEGRAPH_MODE.always : value;
    this.changed();
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

  /**
   * Adds a node of `type` at a graph position (default: the middle of the view). A blueprint's type adds
   * an instance of its subgraph, copied into the workflow (once: later instances share the copy).
   */
  addNode(type: string, pos?: [number, number]): KinegraphNode | undefined {
    const blueprint = this.catalog.blueprints?.find((b) => b.type === type);
    if (blueprint) type = this.#useBlueprint(blueprint);
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

  /** The workflow's copy of a blueprint's subgraph (made on first use); returns its instance type. */
  #useBlueprint(blueprint: BlueprintDescription): string {
    const subgraphs = { ...this.#currentSubgraphs() };
    const provenance = {
      type: blueprint.type,
      package: blueprint.package,
      version: blueprint.version,
    };
    const same = Object.entries(subgraphs).find(
      ([, s]) => s.blueprint?.type === blueprint.type && s.blueprint.version === blueprint.version,
    );
    let id = same?.[0];
    if (!id) {
      id = uniqueName(blueprint.type.split('/').pop() ?? 'blueprint', Object.keys(subgraphs));
      subgraphs[id] = { ...structuredClone(blueprint.subgraph), blueprint: provenance };
      this.#subgraphs = subgraphs;
      registerSubgraphTypes(this.#subgraphs, this.catalog, this.#hooks);
    }
    return `subgraph/${id}`;
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
    const open = this.path.at(-1);
    if (open) {
      // A link dropped on the open slot of the input or output node adds an input or output.
      const level = this.#levelDoc();
      const filled = fillOpenSlots(
        level,
        (type, port) => portsFor(this.catalog, this.#subgraphs)(type)?.inputs[port]?.type,
      );
      if (filled) {
        const view = this.canvas.ds;
        const keep = { scale: view.scale, offset: [view.offset[0], view.offset[1]] };
        this.#replaceLevel(filled, this.#subgraphs);
        view.scale = keep.scale;
        view.offset[0] = keep.offset[0]!;
        view.offset[1] = keep.offset[1]!;
      }
    }
    this.history.record(this.#state());
    this.canvas.setDirty(true, true);
    this.events.edited();
  }

  undo(): void {
    const state = this.history.undo();
    if (state) this.#restore(state);
  }

  redo(): void {
    const state = this.history.redo();
    if (state) this.#restore(state);
  }

  /** Puts a history state back, keeping the view where it was when the same level is shown. */
  #restore(text: string): void {
    const state = JSON.parse(text) as HistoryState;
    const ds = this.canvas.ds;
    const view = { scale: ds.scale, offset: [ds.offset[0], ds.offset[1]] };
    const samePath = JSON.stringify(state.p) === JSON.stringify(this.path);
    this.load(state.w, { history: 'keep', fit: !samePath, run: this.shownRunId, path: state.p });
    if (samePath) {
      ds.scale = view.scale;
      ds.offset[0] = view.offset[0]!;
      ds.offset[1] = view.offset[1]!;
      this.canvas.setDirty(true, true);
    }
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
      this.features = message.features ?? [];
      // A run that the server no longer knows is shown no more; no other run is picked in its place, as its
      // states would belong to another graph.
      if (this.shownRunId && !this.runs.has(this.shownRunId)) this.shownRunId = undefined;
      void this.#completeShownRun();
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
    void this.#completeShownRun();
  }

  /**
   * The live snapshot lists finished runs without their previews; the run the nodes show gets them from
   * `GET /api/runs/:id`.
   */
  async #completeShownRun(): Promise<void> {
    const run = this.shownRun();
    if (!run || !isFinished(run) || Object.values(run.nodes).some((n) => n.preview)) return;
    try {
      const full = await call<RunSnapshot>(`/api/runs/${encodeURIComponent(run.id)}`);
      if (!Object.values(full.nodes).some((n) => n.preview)) return;
      this.runs.set(run.id, full);
      if (this.shownRunId === run.id) this.refreshRunView();
    } catch {
      // Forgotten meanwhile: the nodes keep showing what the snapshot had.
    }
  }

  /** Puts the shown run's previews and results on their nodes and redraws. */
  refreshRunView(): void {
    const run = this.shownRun();
    for (const node of this.graph._nodes as KinegraphNode[]) {
      const id = String(node.id);
      const state = this.stateOf(id);
      const file = state?.files?.find((f) => /\.(mp4|webm|gif|png)$/i.test(f));
      if (file) this.#media(node, file);
      else if (state?.preview) this.#preview(node, `data:${state.preview.mime};base64,${state.preview.data}`);
      else this.overlays.remove(id);
    }
    this.events.runChanged(run, [...this.runs.values()], this.queueOrder, this.features);
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

/** The states of a subgraph's inner nodes as one: what its instance shows. */
export function summarize(all: readonly NodeRunState[]): NodeRunState {
  // Inner nodes that do not run (bypassed, muted) do not hold the instance back.
  const states = all.some((n) => n.status !== 'skipped') ? all.filter((n) => n.status !== 'skipped') : all;
  const some = (status: NodeRunState['status']) => states.some((n) => n.status === status);
  const finished = states.filter((n) => n.status === 'done' || n.status === 'cached').length;
  const status: NodeRunState['status'] = some('error')
    ? 'error'
    : states.every((n) => n.status === 'skipped')
      ? 'skipped'
      : states.every((n) => n.status === 'cached')
        ? 'cached'
        : finished === states.length
          ? 'done'
          : some('running') || finished > 0
            ? 'running'
            : 'pending';
  const progress =
    states.reduce((sum, n) => sum + (n.status === 'running' ? n.progress : n.status === 'pending' ? 0 : 1), 0) /
    states.length;
  const error = states.find((n) => n.error)?.error;
  const preview = states.findLast((n) => n.preview)?.preview;
  const files = states.flatMap((n) => n.files ?? []);
  const running = states.find((n) => n.status === 'running');
  return {
    status,
    progress,
    ...(running?.message ? { message: running.message } : {}),
    ...(preview ? { preview } : {}),
    ...(error ? { error } : {}),
    ...(status === 'done' || status === 'cached' ? { ms: states.reduce((sum, n) => sum + (n.ms ?? 0), 0) } : {}),
    ...(files.length ? { files } : {}),
  };
}
