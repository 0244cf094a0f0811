/**
 * The context menus of the canvas, a node, a group, a link and a reroute. Every entry is something the
 * editor supports end to end (saved in the workflow, run by the server); litegraph's own menus, which offer
 * more than that, are never shown.
 */
import { LGraphCanvas, LGraphGroup, type LGraphNode, type LinkSegment, type Reroute } from '@comfyorg/litegraph';
import {
  OPEN_SLOT,
  removePort,
  renamePort,
  SUBGRAPH_INPUTS_TYPE,
  SUBGRAPH_OUTPUTS_TYPE,
} from '../shared/subgraph-ops.js';
import type { CanvasPoint, EditorApp } from './app.js';
import type { KinegraphNode } from './node-types.js';
import { askText } from './ui/dialog.js';
import type { MenuItem } from './ui/menu.js';

/** What menu entries do beyond plain graph edits (they open dialogs or the search). */
export interface MenuActions {
  search(at: CanvasPoint): void;
  renameNode(node: LGraphNode): void;
  renameGroup(group: LGraphGroup): void;
  groupSelection(): void;
  fitView(selection: boolean): void;
  showShortcuts(): void;
  /** Inserts a node into a link (search for one that takes and gives its type). */
  insertIntoLink(link: LinkSegment, at: CanvasPoint): void;
  /** Extra entries for a node (run to here, bypass, subgraphs), added by later features. */
  nodeExtras?(node: LGraphNode): MenuItem[];
  /** Extra entries for a multi-node selection. */
  selectionExtras?(nodes: LGraphNode[]): MenuItem[];
}

/** litegraph's colour palette, by name: node title and body colours, and the group colour. */
export function colorEntries(apply: (name: string | undefined) => void, forGroup: boolean): MenuItem[] {
  return [
    { label: 'No colour', action: () => apply(undefined) },
    ...Object.entries(LGraphCanvas.node_colors).map(
      ([name, c]): MenuItem => ({
        label: name.replace('_', ' '),
        swatch: forGroup ? c.groupcolor : c.bgcolor,
        action: () => apply(name),
      }),
    ),
  ];
}

/** The menu for a right-click on empty canvas (or on a group's body). */
export function canvasMenu(app: EditorApp, actions: MenuActions, at: CanvasPoint): MenuItem[] {
  const nodes = app.selectedNodes();
  const items: MenuItem[] = [
    { label: 'Add node\u2026', shortcut: 'Double-click', id: 'add-node', action: () => actions.search(at) },
    {
      label: 'Add group',
      id: 'add-group',
      action: () => {
        const group = new LGraphGroup('Group');
        group.pos = [at.graph[0], at.graph[1]];
        group.size = [400, 240];
        app.graph.add(group);
        app.changed();
        actions.renameGroup(group);
      },
    },
  ];
  if (nodes.length) {
    items.push('-', {
      label: `Group ${nodes.length === 1 ? 'the selected node' : `the ${nodes.length} selected nodes`}`,
      shortcut: 'Ctrl+G',
      id: 'group-selection',
      action: () => actions.groupSelection(),
    });
    items.push(...(actions.selectionExtras?.(nodes) ?? []));
  }
  items.push(
    '-',
    { label: 'Select all', shortcut: 'Ctrl+A', id: 'select-all', action: () => app.canvas.selectItems() },
    { label: 'Fit view', shortcut: '.', id: 'fit-view', action: () => actions.fitView(false) },
    { label: 'Keyboard shortcuts', shortcut: '?', id: 'shortcuts', action: () => actions.showShortcuts() },
  );
  const group = app.groupAt(at.graph);
  if (group) items.push('-', { label: `Group "${group.title}"`, submenu: groupMenu(app, actions, group) });
  return items;
}

/** The menu of a group. */
export function groupMenu(app: EditorApp, actions: MenuActions, group: LGraphGroup): MenuItem[] {
  return [
    { label: 'Rename\u2026', id: 'group-rename', action: () => actions.renameGroup(group) },
    {
      label: 'Colour',
      id: 'group-color',
      submenu: colorEntries((name) => {
        group.color = name ? LGraphCanvas.node_colors[name]?.groupcolor : undefined;
        app.changed();
      }, true),
    },
    {
      label: 'Fit to its nodes',
      id: 'group-fit',
      action: () => {
        group.recomputeInsideNodes();
        const inside = [...group.children];
        if (inside.length) group.resizeTo(inside, 12);
        app.changed();
      },
    },
    {
      label: group.pinned ? 'Unpin' : 'Pin',
      id: 'group-pin',
      action: () => {
        group.pin(!group.pinned);
        app.changed();
      },
    },
    '-',
    {
      label: 'Remove group (keep its nodes)',
      id: 'group-remove',
      danger: true,
      action: () => {
        app.graph.remove(group);
        app.changed();
      },
    },
  ];
}

/** The menu of a node (acting on the whole selection when the node is part of it). */
export function nodeMenu(app: EditorApp, actions: MenuActions, node: LGraphNode): MenuItem[] {
  const selection = app.selectedNodes();
  const targets: LGraphNode[] = selection.includes(node as KinegraphNode) ? selection : [node];
  const many = targets.length > 1;
  const items: MenuItem[] = [];
  items.push(...(actions.nodeExtras?.(node) ?? []));
  if (items.length) items.push('-');
  items.push(
    {
      label: 'Rename\u2026',
      shortcut: 'F2',
      id: 'node-rename',
      disabled: many,
      action: () => actions.renameNode(node),
    },
    {
      label: node.collapsed ? 'Expand' : 'Collapse',
      id: 'node-collapse',
      action: () => {
        for (const n of targets) n.collapse(true);
        app.changed();
      },
    },
    {
      label: node.pinned ? 'Unpin' : 'Pin',
      id: 'node-pin',
      action: () => {
        const pin = !node.pinned;
        for (const n of targets) n.pin(pin);
        app.changed();
      },
    },
    {
      label: 'Colour',
      id: 'node-color',
      submenu: colorEntries((name) => {
        const c = name ? LGraphCanvas.node_colors[name] : undefined;
        for (const n of targets) {
          if (c) {
            n.color = c.color;
            n.bgcolor = c.bgcolor;
          } else {
            // Back to the type's own colours (kept on the class).
            delete (n as { color?: string }).color;
            delete (n as { bgcolor?: string }).bgcolor;
          }
        }
        app.changed();
      }, false),
    },
    '-',
  );
  if (many)
    items.push({
      label: `Group the ${targets.length} selected nodes`,
      shortcut: 'Ctrl+G',
      id: 'group-selection',
      action: () => actions.groupSelection(),
    });
  items.push(...(many ? (actions.selectionExtras?.(targets) ?? []) : []));
  items.push(
    { label: many ? 'Clone selected' : 'Clone', id: 'node-clone', action: () => app.cloneNodes(targets) },
    '-',
    {
      label: many ? `Remove ${targets.length} nodes` : 'Remove',
      shortcut: 'Delete',
      id: 'node-remove',
      danger: true,
      action: () => app.removeNodes(targets),
    },
  );
  return items;
}

/** The menu of a link, from the circle at its middle. */
export function linkMenu(app: EditorApp, actions: MenuActions, link: LinkSegment, at: CanvasPoint): MenuItem[] {
  return [
    { label: 'Insert node\u2026', id: 'link-insert', action: () => actions.insertIntoLink(link, at) },
    {
      label: 'Add reroute',
      shortcut: 'Alt+click',
      id: 'link-reroute',
      action: () => {
        app.graph.createReroute(link._pos ? [link._pos[0]!, link._pos[1]!] : at.graph, link);
        app.changed();
      },
    },
    '-',
    {
      label: 'Delete link',
      id: 'link-delete',
      danger: true,
      action: () => {
        if (link.id !== undefined) app.graph.removeLink(link.id as number);
        app.changed();
      },
    },
  ];
}

/** The menu of a reroute. */
export function rerouteMenu(app: EditorApp, reroute: Reroute): MenuItem[] {
  return [
    {
      label: 'Remove reroute',
      shortcut: 'Alt+click',
      id: 'reroute-remove',
      danger: true,
      action: () => {
        app.graph.removeReroute(reroute.id);
        app.changed();
      },
    },
  ];
}

/** The menu of a port: disconnect it; on an open subgraph's input and output nodes, rename or remove it. */
export function slotMenu(
  app: EditorApp,
  node: LGraphNode,
  slot: { input?: { name: string; link: number | null }; output?: { name: string; links: number[] | null } },
): MenuItem[] {
  const items: MenuItem[] = [];
  const index = slot.input ? node.inputs.indexOf(slot.input as never) : node.outputs.indexOf(slot.output as never);
  const connected = slot.input ? slot.input.link != null : Boolean(slot.output?.links?.length);
  items.push({
    label: slot.input ? 'Disconnect' : 'Disconnect all',
    id: 'slot-disconnect',
    disabled: !connected,
    action: () => {
      if (slot.input) node.disconnectInput(index);
      else node.disconnectOutput(index);
      app.changed();
    },
  });
  const io = node.type === SUBGRAPH_INPUTS_TYPE ? 'input' : node.type === SUBGRAPH_OUTPUTS_TYPE ? 'output' : undefined;
  const name = (slot.output ?? slot.input)!.name;
  if (io && name !== OPEN_SLOT) {
    items.push(
      '-',
      {
        label: `Rename ${io}\u2026`,
        id: 'port-rename',
        action: () =>
          void askText({ title: `Rename subgraph ${io} "${name}"`, value: name, ok: 'Rename' }).then((to) => {
            if (to && to !== name) app.editOpenSubgraph((w, id) => renamePort(w, id, io, name, to.trim()));
          }),
      },
      {
        label: `Remove ${io}`,
        id: 'port-remove',
        danger: true,
        action: () => app.editOpenSubgraph((w, id) => removePort(w, id, io, name)),
      },
    );
  }
  return items;
}
