/**
 * Dialogs in the app's theme: modal questions (`<dialog>`, so focus stays inside and Escape cancels), a
 * panel for longer content, and the small value editor litegraph opens on a canvas widget.
 */

interface DialogParts {
  readonly dialog: HTMLDialogElement;
  readonly body: HTMLElement;
  readonly actions: HTMLElement;
}

function frame(title: string, className = ''): DialogParts {
  const dialog = document.createElement('dialog');
  dialog.className = `kg-dialog ${className}`.trim();
  const heading = document.createElement('h3');
  heading.textContent = title;
  const body = document.createElement('div');
  body.className = 'kg-dialog-body';
  const actions = document.createElement('div');
  actions.className = 'kg-dialog-actions';
  dialog.append(heading, body, actions);
  document.body.append(dialog);
  // Keys typed in a dialog are the dialog's: the canvas and the app's shortcuts must not see them.
  dialog.addEventListener('keydown', (e) => e.stopPropagation());
  dialog.addEventListener('close', () => dialog.remove());
  return { dialog, body, actions };
}

function button(label: string, kind: 'primary' | 'danger' | '' = ''): HTMLButtonElement {
  return Object.assign(document.createElement('button'), { type: 'button', textContent: label, className: kind });
}

/** Asks for a line (or block) of text; resolves to undefined when cancelled. */
export function askText(options: {
  title: string;
  label?: string;
  value?: string;
  multiline?: boolean;
  ok?: string;
}): Promise<string | undefined> {
  const { dialog, body, actions } = frame(options.title);
  const field = options.multiline
    ? Object.assign(document.createElement('textarea'), { rows: 6 })
    : Object.assign(document.createElement('input'), { type: 'text' });
  field.value = options.value ?? '';
  field.className = 'kg-dialog-field';
  if (options.label) {
    const label = document.createElement('label');
    label.textContent = options.label;
    label.append(field);
    body.append(label);
  } else body.append(field);
  const cancel = button('Cancel');
  const ok = button(options.ok ?? 'OK', 'primary');
  actions.append(cancel, ok);
  return new Promise((resolve) => {
    let result: string | undefined;
    const commit = () => {
      result = field.value;
      dialog.close();
    };
    ok.addEventListener('click', commit);
    cancel.addEventListener('click', () => dialog.close());
    (field as HTMLElement).addEventListener('keydown', (e: KeyboardEvent) => {
      if (e.key === 'Enter' && (!options.multiline || e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        commit();
      }
    });
    dialog.addEventListener('close', () => resolve(result));
    dialog.showModal();
    field.focus();
    field.select();
  });
}

/** Asks a yes/no question; resolves to true for the confirming button. */
export function askConfirm(options: {
  title: string;
  message: string;
  ok: string;
  cancel?: string;
  danger?: boolean;
}): Promise<boolean> {
  const { dialog, body, actions } = frame(options.title);
  const text = document.createElement('p');
  text.textContent = options.message;
  body.append(text);
  const cancel = button(options.cancel ?? 'Cancel');
  const ok = button(options.ok, options.danger ? 'danger' : 'primary');
  actions.append(cancel, ok);
  return new Promise((resolve) => {
    let result = false;
    ok.addEventListener('click', () => {
      result = true;
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => resolve(result));
    dialog.showModal();
    ok.focus();
  });
}

/** Shows content in a closable panel (the shortcuts help). Resolves when it is closed. */
export function showPanel(title: string, content: HTMLElement, className = ''): Promise<void> {
  const { dialog, body, actions } = frame(title, className);
  body.append(content);
  const close = button('Close', 'primary');
  close.addEventListener('click', () => dialog.close());
  actions.append(close);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve());
    dialog.addEventListener('click', (e) => {
      // A click on the backdrop (outside the box) closes it.
      const r = dialog.getBoundingClientRect();
      if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) dialog.close();
    });
    dialog.showModal();
    close.focus();
  });
}

let inline: { close(): void } | undefined;

/**
 * A small editor at page position (`x`, `y`) for one value, as litegraph's canvas widgets ask for (its
 * `prompt`): Enter (Ctrl+Enter in a text block) commits, Escape or a click elsewhere cancels.
 */
export function editInline(options: {
  x: number;
  y: number;
  title: string;
  value: string;
  multiline?: boolean;
  commit(value: string): void;
}): HTMLDivElement {
  inline?.close();
  const box = document.createElement('div');
  box.className = 'kg-inline-edit';
  box.setAttribute('role', 'dialog');
  const label = document.createElement('span');
  label.className = 'name';
  label.textContent = options.title;
  const field = options.multiline
    ? Object.assign(document.createElement('textarea'), { rows: 5 })
    : Object.assign(document.createElement('input'), { type: 'text' });
  field.className = 'value';
  field.value = options.value;
  const ok = button('OK', 'primary');
  box.append(label, field, ok);
  document.body.append(box);
  const { width, height } = box.getBoundingClientRect();
  box.style.left = `${Math.max(4, Math.min(options.x - 20, window.innerWidth - width - 4))}px`;
  box.style.top = `${Math.max(4, Math.min(options.y - 20, window.innerHeight - height - 4))}px`;
  const outside = (e: Event) => {
    if (!box.contains(e.target as Node)) close();
  };
  const close = () => {
    box.remove();
    document.removeEventListener('pointerdown', outside, true);
    if (inline === handle) inline = undefined;
  };
  const handle = { close };
  inline = handle;
  const commit = () => {
    const value = field.value;
    close();
    options.commit(value);
  };
  ok.addEventListener('click', commit);
  (field as HTMLElement).addEventListener('keydown', (e: KeyboardEvent) => {
    e.stopPropagation();
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'Enter' && (!options.multiline || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      commit();
    }
  });
  setTimeout(() => document.addEventListener('pointerdown', outside, true));
  field.focus();
  field.select();
  return box;
}
