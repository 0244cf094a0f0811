/** The inspector: real form controls for the selected node's params (multi-line prompts, seeds, JSON). */
import type { KinegraphNode } from './node-types.js';
import { controlsOf } from './node-types.js';
import { defaultValue, randomSeed } from './widgets.js';

/** For a node inside an open subgraph: which of its params the subgraph's instances expose. */
export interface Exposure {
  isExposed(param: string): boolean;
  set(param: string, exposed: boolean): void;
}

/**
 * Shows `node`'s params in `body`; `changed` is called after each edit. With `exposure`, each param has a
 * pin that exposes it on the open subgraph's instances.
 */
export function renderInspector(
  body: HTMLElement,
  node: KinegraphNode | undefined,
  changed: () => void,
  exposure?: Exposure,
): void {
  if (!node?.description) {
    body.className = 'muted';
    body.textContent = 'Select a node to edit its parameters.';
    return;
  }
  body.className = '';
  const d = node.description;
  const head = document.createElement('div');
  head.className = 'inspector-head';
  const title = document.createElement('input');
  title.value = node.title;
  title.setAttribute('aria-label', 'Title');
  title.addEventListener('change', () => {
    node.title = title.value || d.title;
    changed();
  });
  const meta = document.createElement('div');
  meta.className = 'muted small';
  meta.textContent = `${d.type} \u00b7 id "${String(node.id)}"`;
  const about = document.createElement('p');
  about.className = 'muted small';
  about.textContent = d.description;
  head.append(title, meta, about);
  const form = document.createElement('form');
  form.className = 'params';
  form.addEventListener('submit', (e) => e.preventDefault());
  for (const [name, schema, control] of controlsOf(d)) {
    const row = document.createElement('label');
    row.className = 'param';
    const label = document.createElement('span');
    label.textContent = name;
    if (schema.description) row.title = schema.description;
    row.append(label);
    // Params a workflow leaves out take their schema default on the server; show that, without writing it.
    const value = node.params()[name] ?? defaultValue(schema, control);
    const set = (v: unknown) => {
      node.setParam(name, v);
      changed();
    };
    let input: HTMLElement;
    switch (control.kind) {
      case 'combo': {
        const select = document.createElement('select');
        for (const v of control.values) select.append(new Option(String(v), String(v), false, v === value));
        select.addEventListener('change', () => set(control.values.find((v) => String(v) === select.value)));
        input = select;
        break;
      }
      case 'toggle': {
        const box = Object.assign(document.createElement('input'), { type: 'checkbox' });
        box.checked = value === true;
        box.addEventListener('change', () => set(box.checked));
        input = box;
        break;
      }
      case 'slider': {
        const wrap = document.createElement('div');
        wrap.className = 'slider';
        const range = Object.assign(document.createElement('input'), {
          type: 'range',
          min: String(control.min),
          max: String(control.max),
          step: String(control.step),
          value: String(value),
        });
        const num = Object.assign(document.createElement('input'), {
          type: 'number',
          min: String(control.min),
          max: String(control.max),
          step: String(control.step),
          value: String(value),
        });
        range.addEventListener('input', () => (num.value = range.value));
        range.addEventListener('change', () => set(Number(range.value)));
        num.addEventListener('change', () => {
          range.value = num.value;
          set(Number(num.value));
        });
        wrap.append(range, num);
        num.dataset.param = name;
        input = wrap;
        break;
      }
      case 'number': {
        const wrap = document.createElement('div');
        wrap.className = 'number';
        const num = Object.assign(document.createElement('input'), {
          type: 'number',
          step: String(control.step),
          value: String(value),
        });
        if (control.min !== undefined) num.min = String(control.min);
        if (control.max !== undefined) num.max = String(control.max);
        num.addEventListener('change', () =>
          set(control.precision === 0 ? Math.round(Number(num.value)) : Number(num.value)),
        );
        wrap.append(num);
        num.dataset.param = name;
        if (control.seed) {
          const dice = Object.assign(document.createElement('button'), {
            type: 'button',
            textContent: 'Random',
            title: 'New random seed',
          });
          dice.addEventListener('click', () => {
            const v = randomSeed(control);
            num.value = String(v);
            set(v);
          });
          wrap.append(dice);
        }
        input = wrap;
        break;
      }
      case 'text': {
        const field = control.multiline
          ? Object.assign(document.createElement('textarea'), { rows: 4 })
          : Object.assign(document.createElement('input'), { type: 'text' });
        field.value = String(value ?? '');
        if (control.maxLength !== undefined) field.maxLength = control.maxLength;
        field.addEventListener('change', () => set(field.value));
        input = field;
        break;
      }
      case 'json': {
        const area = Object.assign(document.createElement('textarea'), { rows: 3, value: JSON.stringify(value) });
        area.addEventListener('change', () => {
          try {
            set(JSON.parse(area.value));
            area.classList.remove('invalid');
          } catch {
            area.classList.add('invalid');
          }
        });
        input = area;
        break;
      }
    }
    // The field itself carries the param name (the number box, for composite controls), for tests and tools.
    if (!input.querySelector('[data-param]')) input.dataset.param = name;
    row.append(input);
    if (exposure) {
      const on = exposure.isExposed(name);
      const pin = Object.assign(document.createElement('button'), {
        type: 'button',
        className: `pin${on ? ' on' : ''}`,
        textContent: on ? 'Exposed' : 'Expose',
        title: on
          ? 'Shown on the subgraph node: click to keep it inside'
          : 'Show this param on the subgraph node, so each instance can set it',
      });
      pin.dataset.expose = name;
      pin.setAttribute('aria-pressed', String(on));
      pin.addEventListener('click', (e) => {
        e.preventDefault();
        exposure.set(name, !on);
      });
      row.append(pin);
      row.classList.add('exposable');
    }
    form.append(row);
  }
  body.replaceChildren(head, form);
}
