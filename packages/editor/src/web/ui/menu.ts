/**
 * The app's context menus: a styled list at the pointer, with submenus, keyboard navigation (arrows, Enter,
 * Escape) and shortcut hints. Replaces litegraph's menus so that every entry offered is one that works.
 */

/** One entry of a menu. */
export interface MenuEntry {
  readonly label: string;
  /** Key hint shown at the right, e.g. `Ctrl+B`. */
  readonly shortcut?: string;
  readonly disabled?: boolean;
  /** Shown with a check mark (a toggle that is on). */
  readonly checked?: boolean;
  /** A destructive entry, drawn in red. */
  readonly danger?: boolean;
  /** A colour swatch before the label. */
  readonly swatch?: string;
  /** For tests and tools: `data-command` on the entry. */
  readonly id?: string;
  readonly action?: () => void;
  readonly submenu?: readonly MenuItem[];
}

/** An entry, or `'-'` for a separator. */
export type MenuItem = MenuEntry | '-';

let open: { close(): void } | undefined;

/** Closes the open menu, if any. */
export function closeMenus(): void {
  open?.close();
}

/** True while a menu is open. */
export function menuIsOpen(): boolean {
  return open !== undefined;
}

/**
 * Opens a menu with its top-left corner at page position (`x`, `y`), kept inside the window. Only one menu
 * is open at a time; clicking outside or pressing Escape closes it.
 */
export function showMenu(items: readonly MenuItem[], x: number, y: number, title?: string): void {
  closeMenus();
  const levels: HTMLElement[] = [];
  const restoreFocus = document.activeElement as HTMLElement | null;

  const close = () => {
    for (const level of levels.splice(0)) level.remove();
    document.removeEventListener('pointerdown', outside, true);
    document.removeEventListener('keydown', keys, true);
    window.removeEventListener('blur', close);
    if (open === handle) open = undefined;
    restoreFocus?.focus?.({ preventScroll: true });
  };
  const handle = { close };

  const outside = (e: Event) => {
    if (!levels.some((level) => level.contains(e.target as Node))) close();
  };

  /** Builds one level; `depth` 0 is the root. */
  const build = (entries: readonly MenuItem[], px: number, py: number, depth: number, heading?: string) => {
    for (const level of levels.splice(depth)) level.remove();
    const el = document.createElement('div');
    el.className = 'kg-menu';
    el.setAttribute('role', 'menu');
    if (heading) {
      const h = document.createElement('div');
      h.className = 'kg-menu-title';
      h.textContent = heading;
      el.append(h);
    }
    for (const item of entries) {
      if (item === '-') {
        el.append(Object.assign(document.createElement('div'), { className: 'kg-menu-sep' }));
        continue;
      }
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `kg-menu-item${item.danger ? ' danger' : ''}${item.submenu ? ' has-sub' : ''}`;
      button.setAttribute('role', 'menuitem');
      button.disabled = Boolean(item.disabled);
      if (item.id) button.dataset.command = item.id;
      const check = document.createElement('span');
      check.className = 'check';
      check.textContent = item.checked ? '\u2713' : '';
      if (item.swatch) {
        check.className = 'swatch';
        check.style.background = item.swatch;
      }
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = item.label;
      const hint = document.createElement('span');
      hint.className = 'shortcut';
      hint.textContent = item.submenu ? '\u203a' : (item.shortcut ?? '');
      button.append(check, label, hint);
      const openSub = () => {
        if (!item.submenu || item.disabled) return;
        const r = button.getBoundingClientRect();
        build(item.submenu, r.right - 2, r.top - 4, depth + 1);
        (levels[depth + 1]?.querySelector('button:not(:disabled)') as HTMLElement | null)?.focus();
      };
      button.addEventListener('pointerenter', () => {
        button.focus({ preventScroll: true });
        if (item.submenu) openSub();
        else for (const level of levels.splice(depth + 1)) level.remove();
      });
      button.addEventListener('click', (e) => {
        e.stopPropagation();
        if (item.disabled) return;
        if (item.submenu) return openSub();
        close();
        item.action?.();
      });
      (button as HTMLButtonElement & { openSub?: () => void }).openSub = openSub;
      el.append(button);
    }
    el.addEventListener('contextmenu', (e) => e.preventDefault());
    document.body.append(el);
    // Keep it on screen: flip left or up when it would overflow.
    const { width, height } = el.getBoundingClientRect();
    const parentLeft = depth ? (levels[depth - 1]?.getBoundingClientRect().left ?? px) : px;
    const left = px + width > window.innerWidth - 4 ? Math.max(4, parentLeft - width + (depth ? 2 : 0)) : px;
    const top = py + height > window.innerHeight - 4 ? Math.max(4, window.innerHeight - height - 4) : py;
    el.style.left = `${left}px`;
    el.style.top = `${top}px`;
    levels[depth] = el;
    return el;
  };

  const keys = (e: KeyboardEvent) => {
    const level = levels.findLast((l) => l.contains(document.activeElement)) ?? levels.at(-1)!;
    const depth = levels.indexOf(level);
    const buttons = [...level.querySelectorAll<HTMLButtonElement>('button.kg-menu-item:not(:disabled)')];
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    const move = (to: number) => buttons[(to + buttons.length) % buttons.length]?.focus();
    let handled = true;
    if (e.key === 'Escape') {
      if (depth > 0) {
        for (const l of levels.splice(depth)) l.remove();
        (levels[depth - 1]?.querySelector('button:focus, button') as HTMLElement | null)?.focus();
      } else close();
    } else if (e.key === 'ArrowDown') move(index + 1);
    else if (e.key === 'ArrowUp') move(index < 0 ? -1 : index - 1);
    else if (e.key === 'ArrowRight') (buttons[index] as HTMLButtonElement & { openSub?: () => void })?.openSub?.();
    else if (e.key === 'ArrowLeft' && depth > 0) {
      for (const l of levels.splice(depth)) l.remove();
      (levels[depth - 1]?.querySelector('button') as HTMLElement | null)?.focus();
    } else if (e.key === 'Enter' || e.key === ' ') buttons[index]?.click();
    else if (e.key === 'Tab') close();
    else handled = false;
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  };

  build(items, x, y, 0, title);
  (levels[0]?.querySelector('button:not(:disabled)') as HTMLElement | null)?.focus({ preventScroll: true });
  // After the event that opened the menu has finished, so its own pointerdown does not close it.
  setTimeout(() => document.addEventListener('pointerdown', outside, true));
  document.addEventListener('keydown', keys, true);
  window.addEventListener('blur', close);
  open = handle;
}
