/** The node palette: categories from the catalogue, a search box, click or drag to add. */
import type { NodeDescription } from '@kinegraph/core';

/** MIME type of a palette drag, so the canvas can tell it from a file drop. */
export const NODE_DRAG_TYPE = 'application/x-kinegraph-node';

/** Renders the palette into `list`, filtered by `search`'s text; `add` is called with a node type. */
export function renderPalette(
  list: HTMLElement,
  search: HTMLInputElement,
  nodes: readonly NodeDescription[],
  add: (type: string) => void,
  /** Types of the entries that are subgraph blueprints (tagged as such). */
  blueprints: ReadonlySet<string> = new Set(),
): void {
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const matches = nodes.filter(
      (n) => !q || `${n.title} ${n.type} ${n.category} ${n.description}`.toLowerCase().includes(q),
    );
    const byCategory = new Map<string, NodeDescription[]>();
    for (const n of matches) byCategory.set(n.category, [...(byCategory.get(n.category) ?? []), n]);
    list.replaceChildren(
      ...[...byCategory.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([category, items]) => {
          const details = document.createElement('details');
          details.open = true;
          const summary = document.createElement('summary');
          summary.textContent = category;
          details.append(summary);
          for (const n of items.sort((a, b) => a.title.localeCompare(b.title))) {
            const item = document.createElement('button');
            item.className = 'palette-item';
            item.dataset.type = n.type;
            item.title = `${n.type}\n${n.description}`;
            item.draggable = true;
            item.innerHTML = '<span class="t"></span><span class="d"></span>';
            item.querySelector('.t')!.textContent = n.title;
            if (blueprints.has(n.type)) {
              item.classList.add('blueprint');
              const tag = Object.assign(document.createElement('span'), { className: 'tag', textContent: 'subgraph' });
              item.querySelector('.t')!.append(tag);
            }
            item.querySelector('.d')!.textContent = n.description;
            item.addEventListener('click', () => add(n.type));
            item.addEventListener('dragstart', (e) => e.dataTransfer?.setData(NODE_DRAG_TYPE, n.type));
            details.append(item);
          }
          return details;
        }),
    );
    if (!matches.length) list.textContent = 'No node matches.';
  };
  search.addEventListener('input', draw);
  search.addEventListener('keydown', (e) => {
    // Enter adds the first match: search-and-add without the mouse.
    if (e.key === 'Enter') (list.querySelector('.palette-item') as HTMLButtonElement | null)?.click();
  });
  draw();
}
