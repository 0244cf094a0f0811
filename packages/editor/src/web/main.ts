/** Entry point of the web app: fetches the catalogue, builds the page around the canvas, connects live. */
import '@comfyorg/litegraph/style.css';
import './style.css';
import {
  LGraphCanvas,
  type LGraphGroup,
  type LGraphNode,
  type LinkSegment,
  LiteGraph,
  Reroute,
} from '@comfyorg/litegraph';
import type { Workflow } from '@kinegraph/core';
import { LITEGRAPH_MODE } from '../shared/convert.js';
import type { ExampleWorkflow } from '../shared/protocol.js';
import { call, connectLive } from './api.js';
import { type CanvasPoint, EditorApp, type OpenSubgraph } from './app.js';
import { CATEGORY_COLORS, type Catalog } from './catalog.js';
import { type Command, installKeys, showShortcuts } from './commands.js';
import { describeNeed, matchingPort, type PortNeed } from './compat.js';
import { type FileEvents, loadSafely, openFile, save } from './files.js';
import { renderInspector } from './inspector.js';
import { canvasMenu, groupMenu, linkMenu, type MenuActions, nodeMenu, rerouteMenu, slotMenu } from './menus.js';
import { Minimap } from './minimap.js';
import type { KinegraphNode } from './node-types.js';
import { renderOutput } from './output-panel.js';
import { NODE_DRAG_TYPE, renderPalette } from './palette.js';
import { openRun } from './run-loader.js';
import { RunsPanel } from './runs-panel.js';
import { itemsOf, openSearch } from './search.js';
import { readSession, writeSession } from './session.js';
import { askSubgraph } from './subgraph-dialog.js';
import { describeBlueprint } from './subgraphs.js';
import { editInline } from './ui/dialog.js';
import { closeMenus, type MenuItem, menuIsOpen, showMenu } from './ui/menu.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const el = $('toast');
  el.textContent = text;
  el.className = `show ${kind}`;
  clearTimeout((toast as { timer?: number }).timer);
  (toast as { timer?: number }).timer = window.setTimeout(() => (el.className = ''), kind === 'error' ? 6000 : 2500);
}

async function start(): Promise<void> {
  const catalog = await call<Catalog>('/api/nodes');
  const canvasEl = $<HTMLCanvasElement>('graph');
  let minimap: Minimap | undefined;
  let runsPanel: RunsPanel | undefined;
  let saveTimer = 0;
  const app: EditorApp = new EditorApp(catalog, canvasEl, $('overlays'), {
    selection: (node) => inspect(node),
    runChanged: (run, runs, queue, features) => {
      runsPanel?.update(runs, queue, app.shownRunId, features.includes('run-next'));
      renderOutput($('output-body'), run);
      const running = app.runningRun();
      const cancel = $<HTMLButtonElement>('cancel');
      cancel.disabled = !running;
      cancel.title = running
        ? `Cancel the running run (${running.name ?? 'untitled'})`
        : 'Cancel the running run (none is running)';
      $('queue').classList.toggle('busy', Boolean(running));
    },
    problems: (list) => {
      $('problems').hidden = list.length === 0;
      $('problem-list').replaceChildren(
        ...list.map((p) => {
          const li = document.createElement('li');
          li.textContent = p.nodeId ? `${p.nodeId}: ${p.text}` : p.text;
          if (p.nodeId) li.addEventListener('click', () => focusNode(app, p.nodeId!));
          return li;
        }),
      );
    },
    toast,
    workflowChanged: (name) => ($('workflow-name').textContent = name ?? ''),
    pathChanged: (path) => renderBreadcrumb(path),
    edited: () => {
      minimap?.update();
      // The session is written a moment after the last edit, not on every pointer move.
      clearTimeout(saveTimer);
      saveTimer = window.setTimeout(() => writeSession(app.workflow(), app.shownRunId), 300);
    },
  });
  const inspect = (node: KinegraphNode | undefined) => {
    const inside = app.path.length > 0 && node?.description && !node.type?.startsWith('kinegraph-editor/');
    renderInspector(
      $('inspector-body'),
      node,
      () => app.changed(),
      inside
        ? {
            isExposed: (param) => app.isExposed(String(node!.id), param),
            set: (param, on) => {
              app.setExposed(String(node!.id), param, on);
              inspect(node);
            },
          }
        : undefined,
    );
  };
  const fileEvents: FileEvents = {
    toast,
    nodeChanged: (id) => {
      if (String(app.selected()?.id) === id) inspect(app.selected());
    },
  };

  /** Where the canvas is: the workflow, or the subgraphs opened from it. Click a crumb to go back up. */
  const renderBreadcrumb = (path: readonly OpenSubgraph[]) => {
    const bar = $('breadcrumb');
    bar.hidden = path.length === 0;
    const crumb = (label: string, depth: number) => {
      const b = Object.assign(document.createElement('button'), { type: 'button', textContent: label });
      b.dataset.depth = String(depth);
      if (depth === path.length) b.disabled = true;
      else b.addEventListener('click', () => app.closeSubgraph(depth));
      return b;
    };
    const parts: (HTMLElement | string)[] = [crumb(app.workflow().name ?? 'Workflow', 0)];
    for (const [i, open] of path.entries()) parts.push(' \u203a ', crumb(open.name, i + 1));
    const hint = document.createElement('span');
    hint.className = 'muted small';
    hint.textContent = 'Esc: back up';
    bar.replaceChildren(...parts, hint);
  };

  const resize = () => {
    const wrap = $('canvas-wrap');
    app.canvas.resize(wrap.clientWidth, wrap.clientHeight);
    app.canvas.setDirty(true, true);
  };
  new ResizeObserver(resize).observe($('canvas-wrap'));
  resize();

  minimap = new Minimap($('canvas-wrap'), app.canvas, (node) => {
    const state = app.shownRun()?.nodes[String(node.id)];
    if (state?.status === 'running') return '#4fa3ff';
    if (state?.status === 'error') return '#ef5350';
    const category = (node as KinegraphNode).description?.category.split('/')[0] ?? '';
    return node.color ?? CATEGORY_COLORS[category]?.color ?? '#555c66';
  });
  minimap.visible = localStorage.getItem('kinegraph.editor.minimap') !== 'off';
  const setMinimap = (on: boolean) => {
    minimap!.visible = on;
    localStorage.setItem('kinegraph.editor.minimap', on ? 'on' : 'off');
    $('toggle-minimap').setAttribute('aria-pressed', String(on));
  };
  $('toggle-minimap').setAttribute('aria-pressed', String(minimap.visible));
  $('toggle-minimap').addEventListener('click', () => setMinimap(!minimap!.visible));
  app.canvas.onDrawForeground = () => {
    app.overlays.layout((id) => app.node(id));
    minimap?.update();
  };

  runsPanel = new RunsPanel($('run-list'), $('runs-summary'), {
    open: (id) => void openRun(app, id, { toast }),
    cancel: (id) => void app.cancel(id),
    runNext: (id) => void app.runNext(id),
  });

  // Node types and the subgraph blueprints plugins ship, in one palette and one search.
  const blueprintTypes = new Set((catalog.blueprints ?? []).map((b) => b.type));
  const offered = [...catalog.nodes, ...(catalog.blueprints ?? []).map((b) => describeBlueprint(b, catalog))];
  renderPalette($('palette-list'), $<HTMLInputElement>('search'), offered, (type) => app.addNode(type), blueprintTypes);

  // Search, menus and dialogs: the app's own, in place of litegraph's.
  const searchAt = async (at: CanvasPoint, need?: PortNeed, connect?: (node: KinegraphNode) => boolean) => {
    const candidates = need ? offered.filter((d) => matchingPort(catalog, d, need) !== undefined) : offered;
    const type = await openSearch({
      x: at.clientX,
      y: at.clientY,
      items: itemsOf(candidates),
      ...(need ? { filter: describeNeed(need) } : {}),
    });
    if (!type) return;
    const node = app.addNode(type, [at.graph[0], at.graph[1]]);
    if (node && connect) {
      // An input is connected on the node's left, an output on its right: put the node beside the drop point.
      if (need?.side === 'output') node.pos = [at.graph[0] - node.size[0], at.graph[1]];
      if (!connect(node)) toast(`${node.title} has no port that fits.`, 'error');
      app.changed();
    }
  };
  app.onLinkReleased((at, need, connect) => void searchAt(at, need, connect));
  const pointAt = (e: { clientX: number; clientY: number }): CanvasPoint => ({
    clientX: e.clientX,
    clientY: e.clientY,
    graph: app.toGraph(e.clientX, e.clientY),
  });
  const renameNode = (node: LGraphNode) => {
    const at = app.toPage([node.pos[0], node.pos[1] - LiteGraph.NODE_TITLE_HEIGHT]);
    editInline({
      x: at.x + 20,
      y: at.y + 20,
      title: 'Title',
      value: node.title,
      commit: (value) => {
        node.title = value.trim() || ((node as KinegraphNode).description?.title ?? node.type ?? 'Node');
        app.changed();
        if (app.selected() === node) inspect(node as KinegraphNode);
      },
    });
  };
  const renameGroup = (group: LGraphGroup) => {
    const at = app.toPage([group.pos[0], group.pos[1]]);
    editInline({
      x: at.x + 20,
      y: at.y + 20,
      title: 'Group',
      value: group.title,
      commit: (value) => {
        group.title = value.trim() || 'Group';
        app.changed();
      },
    });
  };
  const groupSelection = () => {
    const group = app.groupSelection();
    if (group) renameGroup(group);
    else toast('Select the nodes to group first.');
  };
  const runTo = (node: LGraphNode) => void app.queue({ targets: [app.runIdOf(String(node.id))] });
  const convertSelection = async () => {
    const nodes = app.selectedNodes().filter((n) => !n.type?.startsWith('kinegraph-editor/'));
    if (!nodes.length) return toast('Select the nodes to put in a subgraph first.');
    const answer = await askSubgraph(nodes);
    if (!answer) return;
    app.convertSelection(answer.name, answer.params);
    toast(`Made subgraph "${answer.name}": double-click it to open it.`);
  };
  const actions: MenuActions = {
    nodeExtras: (node) => {
      const io = node.type?.startsWith('kinegraph-editor/');
      if (io) return [];
      const items: MenuItem[] = [
        { label: 'Run to here', id: 'run-to', action: () => runTo(node) },
        {
          label: 'Bypass',
          shortcut: 'Ctrl+B',
          id: 'node-bypass',
          checked: node.mode === LITEGRAPH_MODE.bypass,
          action: () => app.toggleMode(targetsOf(node), 'bypass'),
        },
        {
          label: 'Mute',
          shortcut: 'Ctrl+M',
          id: 'node-mute',
          checked: node.mode === LITEGRAPH_MODE.mute,
          action: () => app.toggleMode(targetsOf(node), 'mute'),
        },
      ];
      if (node.type?.startsWith('subgraph/'))
        items.push(
          '-',
          {
            label: 'Open subgraph',
            shortcut: 'Double-click',
            id: 'subgraph-open',
            action: () => app.openSubgraph(String(node.id)),
          },
          { label: 'Unpack subgraph', id: 'subgraph-unpack', action: () => app.unpack(String(node.id)) },
        );
      return items;
    },
    selectionExtras: () => [
      { label: 'Convert to subgraph\u2026', id: 'subgraph-convert', action: () => void convertSelection() },
    ],
    search: (at) => void searchAt(at),
    renameNode,
    renameGroup,
    groupSelection,
    fitView: (selection) => app.fit(selection),
    showShortcuts: () => void showShortcuts(commands),
    insertIntoLink: (link, at) => void insertIntoLink(app, link, at, toast),
  };
  const canvas = app.canvas;
  canvas.processContextMenu = (node, event) => {
    const e = event as unknown as PointerEvent & { canvasX: number; canvasY: number };
    const at = pointAt(e);
    let items: ReturnType<typeof canvasMenu>;
    let title: string | undefined;
    const reroute = node ? undefined : app.graph.getRerouteOnPos(at.graph[0], at.graph[1]);
    const slot = node?.getSlotInPosition?.(at.graph[0], at.graph[1]) as
      | { input?: { name: string; link: number | null }; output?: { name: string; links: number[] | null } }
      | undefined;
    if (node && slot && (slot.input || slot.output)) {
      items = slotMenu(app, node, slot);
      title = (slot.input ?? slot.output)!.name;
    } else if (node) {
      items = nodeMenu(app, actions, node);
      title = node.title;
    } else if (reroute instanceof Reroute) {
      items = rerouteMenu(app, reroute);
      title = 'Reroute';
    } else {
      const group = app.graph.getGroupTitlebarOnPos(at.graph[0], at.graph[1]);
      if (group) {
        items = groupMenu(app, actions, group);
        title = group.title;
      } else items = canvasMenu(app, actions, at);
    }
    showMenu(items, e.clientX, e.clientY, title);
  };
  canvas.showLinkMenu = (segment: LinkSegment, event: unknown) => {
    const e = event as PointerEvent;
    showMenu(linkMenu(app, actions, segment, pointAt(e)), e.clientX, e.clientY, 'Link');
    return false;
  };
  canvas.showSearchBox = ((event: MouseEvent) => {
    void searchAt(pointAt(event));
    return undefined as unknown as HTMLDivElement;
  }) as typeof canvas.showSearchBox;
  canvas.prompt = ((
    title: string,
    value: unknown,
    callback: (v: string) => void,
    event: MouseEvent,
    multiline?: boolean,
  ) =>
    editInline({
      x: event?.clientX ?? window.innerWidth / 2,
      y: event?.clientY ?? window.innerHeight / 2,
      title,
      value: String(value ?? ''),
      multiline: Boolean(multiline),
      commit: callback,
    })) as typeof canvas.prompt;
  canvasEl.addEventListener('litegraph:canvas', (e) => {
    const detail = (e as CustomEvent<{ subType: string; node?: LGraphNode; group?: LGraphGroup }>).detail;
    if (detail.subType === 'group-double-click' && detail.group) renameGroup(detail.group);
    if (detail.subType === 'node-double-click' && detail.node?.type?.startsWith('subgraph/'))
      app.openSubgraph(String(detail.node.id));
  });
  // litegraph calls this on a double-click on a node's title bar.
  LiteGraph.LGraphNode.prototype.onNodeTitleDblClick = function (this: LGraphNode) {
    renameNode(this);
  };

  // Examples.
  const examples = await call<ExampleWorkflow[]>('/api/workflows').catch(() => [] as ExampleWorkflow[]);
  const select = $<HTMLSelectElement>('examples');
  for (const e of examples) select.append(new Option(e.name, e.id));
  select.addEventListener('change', () => {
    const example = examples.find((e) => e.id === select.value);
    if (example) loadSafely(app, example.workflow as Workflow, `Loaded "${example.name}"`, fileEvents);
    select.value = '';
  });
  // The canvas of the last visit (this tab's after a reload), else the default example.
  const session = readSession();
  let restored = false;
  if (session) {
    try {
      app.load(session.workflow, { run: session.shownRunId });
      restored = true;
    } catch {
      // An old or broken saved canvas: start from the example.
    }
  }
  const first = examples.find((e) => e.id === 'text-to-video') ?? examples[0];
  if (!restored && first) app.load(first.workflow as Workflow);

  // Open, save, drop.
  const fileInput = $<HTMLInputElement>('file');
  $('open').addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => {
    const file = fileInput.files?.[0];
    if (file) void openFile(app, file, fileEvents);
    fileInput.value = '';
  });
  $('save').addEventListener('click', () => save(app));
  $('fit').addEventListener('click', () => app.fit());
  $('help').addEventListener('click', () => void showShortcuts(commands));
  const wrap = $('canvas-wrap');
  window.addEventListener('dragover', (e) => {
    e.preventDefault();
    if (e.dataTransfer?.types.includes('Files')) wrap.classList.add('dropping');
  });
  window.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) wrap.classList.remove('dropping');
  });
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    wrap.classList.remove('dropping');
    // Where it was dropped, when that is over the canvas.
    const r = canvasEl.getBoundingClientRect();
    const over = e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom;
    const at = over ? app.toGraph(e.clientX, e.clientY) : undefined;
    const type = e.dataTransfer?.getData(NODE_DRAG_TYPE);
    if (type) {
      app.addNode(type, at);
      return;
    }
    const file = e.dataTransfer?.files[0];
    if (file) void openFile(app, file, fileEvents, at);
  });

  // Run.
  $('queue').addEventListener('click', (e) => void app.queue({ front: e.shiftKey }));
  $('cancel').addEventListener('click', () => {
    const running = app.runningRun();
    if (running) void app.cancel(running.id);
  });

  const commands: Command[] = [
    { id: 'queue', label: 'Queue the workflow', keys: ['Ctrl+Enter'], global: true, run: () => void app.queue() },
    {
      id: 'queue-front',
      label: 'Queue the workflow to run next',
      keys: ['Ctrl+Shift+Enter'],
      global: true,
      run: () => void app.queue({ front: true }),
    },
    { id: 'save', label: 'Save the workflow (download)', keys: ['Ctrl+S'], global: true, run: () => save(app) },
    {
      id: 'open',
      label: 'Open a workflow or media file',
      keys: ['Ctrl+O'],
      global: true,
      run: () => fileInput.click(),
    },
    { id: 'undo', label: 'Undo', keys: ['Ctrl+Z'], run: () => app.undo() },
    { id: 'redo', label: 'Redo', keys: ['Ctrl+Shift+Z', 'Ctrl+Y'], run: () => app.redo() },
    { id: 'group', label: 'Group the selected nodes', keys: ['Ctrl+G'], run: groupSelection },
    {
      id: 'bypass',
      label: 'Bypass the selected nodes (their inputs pass through)',
      keys: ['Ctrl+B'],
      when: () => app.selectedNodes().length > 0,
      run: () => app.toggleMode(app.selectedNodes(), 'bypass'),
    },
    {
      id: 'mute',
      label: 'Mute the selected nodes (they, and what needs them, do not run)',
      keys: ['Ctrl+M'],
      when: () => app.selectedNodes().length > 0,
      run: () => app.toggleMode(app.selectedNodes(), 'mute'),
    },
    {
      id: 'run-to',
      label: 'Run to the selected node (only it and what it needs)',
      keys: ['Ctrl+Alt+Enter'],
      global: true,
      when: () => app.selected() !== undefined,
      run: () => runTo(app.selected()!),
    },
    {
      id: 'subgraph-convert',
      label: 'Convert the selected nodes to a subgraph',
      keys: ['Ctrl+Shift+G'],
      when: () => app.selectedNodes().length > 0,
      run: () => void convertSelection(),
    },
    {
      id: 'subgraph-close',
      label: 'Close the open subgraph (back up a level)',
      keys: ['Escape'],
      when: () => app.path.length > 0 && !menuIsOpen(),
      run: () => app.closeSubgraph(),
    },
    {
      id: 'rename',
      label: 'Rename the selected node',
      keys: ['F2'],
      when: () => app.selected() !== undefined,
      run: () => renameNode(app.selected()!),
    },
    {
      id: 'search',
      label: 'Search and add a node',
      keys: ['Ctrl+K'],
      run: () => {
        const r = canvasEl.getBoundingClientRect();
        void searchAt(pointAt({ clientX: r.left + r.width / 2 - 150, clientY: r.top + r.height / 3 }));
      },
    },
    { id: 'fit', label: 'Fit the view to the graph (or to the selection)', keys: ['.'], run: () => app.fit(true) },
    { id: 'minimap', label: 'Show or hide the minimap', keys: ['Alt+M'], run: () => setMinimap(!minimap!.visible) },
    { id: 'shortcuts', label: 'Show these shortcuts', keys: ['?'], run: () => void showShortcuts(commands) },
    { id: 'escape', label: 'Close menus and boxes', keys: ['Escape'], run: () => closeMenus() },
  ];
  installKeys(commands);
  // litegraph's own pop-ups (the value list of a combo widget) close on Escape too.
  window.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') LiteGraph.closeAllContextMenus(window);
  });

  connectLive(
    (m) => app.onMessage(m),
    (connected) => {
      const pill = $('connection');
      pill.textContent = connected ? 'connected' : 'reconnecting\u2026';
      pill.className = `pill ${connected ? 'ok' : 'bad'}`;
    },
  );

  // For tests and the console: the app and a few handles on it.
  (window as unknown as { kinegraph: unknown }).kinegraph = {
    app,
    workflow: () => app.workflow(),
    load: (w: Workflow) => app.load(w),
    setParam: (nodeId: string, name: string, value: unknown) => {
      app.node(nodeId)?.setParam(name, value);
      app.changed();
    },
    linkCount: () => Object.keys(app.graph.links ?? {}).length,
    /** Where a slot is on the page, for real mouse drags. */
    slotPosition: (nodeId: string, side: 'input' | 'output', name: string) => {
      const node = app.node(nodeId)!;
      const slots = side === 'input' ? node.inputs : node.outputs;
      const index = slots.findIndex((s) => s.name === name);
      const p = node.getConnectionPos(side === 'input', index);
      return app.toPage([p[0]!, p[1]!]);
    },
    /** Where a graph position is on the page. */
    toPage: (x: number, y: number) => app.toPage([x, y]),
    flushRuns: () => runsPanel?.flush(),
  };
  document.body.dataset.ready = 'true';
}

/** Inserts a node into a link: one that takes the link's type and gives a type its target takes. */
async function insertIntoLink(
  app: EditorApp,
  link: LinkSegment,
  at: CanvasPoint,
  say: (text: string, kind?: 'info' | 'error') => void,
): Promise<void> {
  const l = link.id !== undefined ? app.graph.links.get?.(link.id as number) : undefined;
  if (!l) return;
  const from = app.graph.getNodeById(l.origin_id);
  const to = app.graph.getNodeById(l.target_id);
  if (!from || !to) return;
  const outType = String(from.outputs[l.origin_slot]?.type ?? '*');
  const inTypes = String(to.inputs[l.target_slot]?.type ?? '*').split(',');
  const takes: PortNeed = { side: 'input', type: outType };
  const gives: PortNeed = { side: 'output', types: inTypes };
  const catalog = app.catalog;
  const candidates = catalog.nodes.filter(
    (d) => matchingPort(catalog, d, takes) !== undefined && matchingPort(catalog, d, gives) !== undefined,
  );
  const type = await openSearch({
    x: at.clientX,
    y: at.clientY,
    items: itemsOf(candidates),
    filter: `${describeNeed(takes)}, ${describeNeed(gives)}`,
  });
  if (!type) return;
  const node = app.addNode(type, [at.graph[0], at.graph[1]]);
  if (!node) return;
  const input = matchingPort(catalog, node.description, takes)!;
  const output = node.outputs.findIndex((o) => o.name === matchingPort(catalog, node.description, gives));
  const targetSlot = l.target_slot;
  from.connect(l.origin_slot, node, input);
  if (!node.connect(output, to, targetSlot)) say(`${node.title} could not be connected to ${to.title}.`, 'error');
  app.changed();
}

/** The node a menu acts on: the whole selection when the node is part of it. */
function targetsOf(node: LGraphNode): LGraphNode[] {
  const selection = Object.values(LGraphCanvas.active_canvas?.selected_nodes ?? {}) as LGraphNode[];
  return selection.includes(node) ? selection : [node];
}

function focusNode(app: EditorApp, nodeId: string): void {
  const id = app.canvasIdOf(nodeId);
  const node = id === undefined ? undefined : app.node(id);
  if (!node) return;
  app.canvas.centerOnNode(node);
  app.canvas.selectNode(node);
  app.canvas.setDirty(true, true);
}

start().catch((error: unknown) => {
  document.body.dataset.ready = 'error';
  toast(`The editor could not start: ${error instanceof Error ? error.message : String(error)}`, 'error');
});
