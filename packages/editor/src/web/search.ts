/**
 * The node search: a box at the pointer that lists node types as you type (titles first, then words,
 * then descriptions), optionally only those with a port that fits a released link. Arrows move, Enter
 * adds, Escape closes.
 */
import type { NodeDescription } from '@kinegraph/core';

/** One thing the search can add: a node type or a subgraph blueprint. */
export interface SearchItem {
  readonly type: string;
  readonly title: string;
  readonly category: string;
  readonly description: string;
}

let open: { close(): void } | undefined;

/** Closes the search box, if open. */
export function closeSearch(): void {
  open?.close();
}

/** How well `item` matches `query` (higher is better); 0 is no match. */
export function score(item: SearchItem, query: string): number {
  const q = query.trim().toLowerCase();
  if (!q) return 1;
  const title = item.title.toLowerCase();
  if (title === q) return 100;
  if (title.startsWith(q)) return 80;
  const words = q.split(/\s+/);
  const haystack = `${title} ${item.type.toLowerCase()} ${item.category.toLowerCase()}`;
  if (words.every((w) => title.split(/[\s/-]+/).some((t) => t.startsWith(w)))) return 60;
  if (words.every((w) => haystack.includes(w))) return 40;
  if (words.every((w) => `${haystack} ${item.description.toLowerCase()}`.includes(w))) return 20;
  return 0;
}

/**
 * Opens the search at page position (`x`, `y`). `items` are the candidates (already filtered by port type,
 * when a link was released); `filter` names that filter in a chip. Resolves to the chosen type, or undefined.
 */
export function openSearch(options: {
  x: number;
  y: number;
  items: readonly SearchItem[];
  filter?: string;
}): Promise<string | undefined> {
  closeSearch();
  const box = document.createElement('div');
  box.className = 'kg-search';
  box.setAttribute('role', 'dialog');
  box.setAttribute('aria-label', 'Add a node');
  const head = document.createElement('div');
  head.className = 'kg-search-head';
  const input = Object.assign(document.createElement('input'), {
    type: 'search',
    placeholder: 'Search nodes\u2026',
    autocomplete: 'off',
  });
  head.append(input);
  if (options.filter) {
    const chip = document.createElement('span');
    chip.className = 'chip';
    chip.textContent = options.filter;
    head.append(chip);
  }
  const list = document.createElement('ul');
  list.className = 'kg-search-list';
  list.setAttribute('role', 'listbox');
  box.append(head, list);
  document.body.append(box);
  const width = 360;
  box.style.left = `${Math.max(4, Math.min(options.x - 20, window.innerWidth - width - 4))}px`;
  box.style.top = `${Math.max(4, Math.min(options.y - 16, window.innerHeight - 360))}px`;

  let active = 0;
  let shown: SearchItem[] = [];
  const draw = () => {
    const q = input.value;
    shown = options.items
      .map((item) => ({ item, s: score(item, q) }))
      .filter((x) => x.s > 0)
      .sort((a, b) => b.s - a.s || a.item.title.localeCompare(b.item.title))
      .map((x) => x.item)
      .slice(0, 60);
    active = Math.min(active, Math.max(0, shown.length - 1));
    list.replaceChildren(
      ...shown.map((item, i) => {
        const li = document.createElement('li');
        li.setAttribute('role', 'option');
        li.dataset.type = item.type;
        li.className = `kg-search-item${i === active ? ' active' : ''}`;
        const t = document.createElement('span');
        t.className = 't';
        t.textContent = item.title;
        const c = document.createElement('span');
        c.className = 'c';
        c.textContent = item.category;
        const d = document.createElement('span');
        d.className = 'd';
        d.textContent = item.description;
        li.append(t, c, d);
        li.addEventListener('pointerdown', (e) => {
          e.preventDefault();
          pick(item.type);
        });
        return li;
      }),
    );
    if (!shown.length) {
      const li = document.createElement('li');
      li.className = 'kg-search-item empty';
      li.textContent = options.filter ? `No node ${options.filter} and matches "${q}".` : `No node matches "${q}".`;
      list.append(li);
    }
  };
  const highlight = (to: number) => {
    if (!shown.length) return;
    active = (to + shown.length) % shown.length;
    for (const [i, li] of [...list.querySelectorAll('li')].entries()) li.classList.toggle('active', i === active);
    list.children[active]?.scrollIntoView({ block: 'nearest' });
  };

  let resolve!: (type: string | undefined) => void;
  const result = new Promise<string | undefined>((r) => (resolve = r));
  let chosen: string | undefined;
  const outside = (e: Event) => {
    if (!box.contains(e.target as Node)) close();
  };
  const close = () => {
    box.remove();
    document.removeEventListener('pointerdown', outside, true);
    if (open === handle) open = undefined;
    resolve(chosen);
  };
  const handle = { close };
  const pick = (type: string) => {
    chosen = type;
    close();
  };
  input.addEventListener('input', () => {
    active = 0;
    draw();
  });
  input.addEventListener('keydown', (e) => {
    e.stopPropagation();
    if (e.key === 'Escape') close();
    else if (e.key === 'ArrowDown') highlight(active + 1);
    else if (e.key === 'ArrowUp') highlight(active - 1);
    else if (e.key === 'Enter') {
      const item = shown[active];
      if (item) pick(item.type);
    } else return;
    e.preventDefault();
  });
  setTimeout(() => document.addEventListener('pointerdown', outside, true));
  open = handle;
  draw();
  input.focus();
  return result;
}

/** Search items for node descriptions. */
export function itemsOf(nodes: readonly NodeDescription[]): SearchItem[] {
  return nodes.map((n) => ({ type: n.type, title: n.title, category: n.category, description: n.description }));
}
