/**
 * Keyboard commands: one table that drives the key handler, the hints in menus and the shortcuts help
 * (`?`), so what the help lists is exactly what the keys do.
 */
import { showPanel } from './ui/dialog.js';

/** One command with its keys. */
export interface Command {
  readonly id: string;
  readonly label: string;
  /** Keys as shown to people, e.g. `Ctrl+Shift+Z`; the first is the one menus show. */
  readonly keys: readonly string[];
  /** Also while typing in a form field (saving, queueing); others leave text fields alone. */
  readonly global?: boolean;
  /** Whether it applies now; a command that does not is not run, and the key goes on to others. */
  readonly when?: () => boolean;
  run(): void;
}

/** Keys and gestures litegraph itself handles, listed in the help for completeness. */
export const CANVAS_GESTURES: readonly (readonly [keys: string, what: string])[] = [
  ['Double-click the canvas', 'Search and add a node'],
  ['Drag a port onto empty canvas', 'Search the nodes that fit, add one and connect it'],
  ['Drag the background / Space + drag', 'Pan'],
  ['Wheel', 'Zoom'],
  ['Ctrl + drag', 'Select with a rectangle'],
  ['Shift + click', 'Add to the selection'],
  ['Alt + click a link', 'Add a reroute on it'],
  ['Alt + click a reroute', 'Remove the reroute'],
  ['Shift + drag a link', 'Move its end to another port'],
  ['Right-click', 'Menu of the node, group, link or canvas'],
  ['Double-click a node title / group title', 'Rename it'],
  ['Ctrl+A', 'Select all nodes'],
  ['Ctrl+C / Ctrl+V', 'Copy / paste the selection (Ctrl+Shift+V keeps its input links)'],
  ['Delete / Backspace', 'Remove the selection'],
];

/** Parses `Ctrl+Shift+Z`-style keys into a matcher for keydown events. */
export function keyMatcher(keys: string): (e: KeyboardEvent) => boolean {
  const parts = keys.split('+');
  const key = parts.pop()!;
  const want = new Set(parts.map((p) => p.toLowerCase()));
  return (e) => {
    const mod = e.ctrlKey || e.metaKey;
    if (want.has('ctrl') !== mod || want.has('alt') !== e.altKey) return false;
    // `?` is Shift+/ on most layouts: a printable key carries its own shift.
    if (key.length === 1 && !/[a-z0-9]/i.test(key)) return e.key === key;
    if (want.has('shift') !== e.shiftKey) return false;
    return e.key.toLowerCase() === key.toLowerCase() || e.code === `Key${key.toUpperCase()}`;
  };
}

/** Runs the first command whose keys match a keydown (and that applies now). */
export function installKeys(commands: readonly Command[]): void {
  const table = commands.flatMap((c) => c.keys.map((k) => ({ command: c, match: keyMatcher(k) })));
  window.addEventListener('keydown', (e) => {
    if (e.defaultPrevented) return;
    const target = e.target as HTMLElement;
    const typing =
      target.closest('input, textarea, select, [contenteditable="true"], .kg-search, .kg-inline-edit, dialog') !== null;
    for (const { command, match } of table) {
      if (!match(e)) continue;
      if (typing && !command.global) continue;
      if (command.when && !command.when()) continue;
      e.preventDefault();
      e.stopPropagation();
      command.run();
      return;
    }
  });
}

/** The shortcuts help panel. */
export function showShortcuts(commands: readonly Command[]): Promise<void> {
  const content = document.createElement('div');
  content.className = 'kg-shortcuts';
  const table = (title: string, rows: readonly (readonly [string, string])[]) => {
    const section = document.createElement('section');
    const h = document.createElement('h4');
    h.textContent = title;
    const dl = document.createElement('dl');
    for (const [keys, what] of rows) {
      const dt = document.createElement('dt');
      for (const [i, k] of keys.split(' / ').entries()) {
        if (i) dt.append(' / ');
        const kbd = document.createElement('kbd');
        kbd.textContent = k;
        dt.append(kbd);
      }
      const dd = document.createElement('dd');
      dd.textContent = what;
      dl.append(dt, dd);
    }
    section.append(h, dl);
    return section;
  };
  content.append(
    table(
      'Keys',
      commands.filter((c) => c.keys.length).map((c) => [c.keys.join(' / '), c.label] as const),
    ),
    table('Mouse and canvas', CANVAS_GESTURES),
  );
  return showPanel('Keyboard shortcuts', content, 'wide');
}
