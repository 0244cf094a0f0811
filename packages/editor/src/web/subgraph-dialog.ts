/**
 * The dialog of Convert to Subgraph: a name, and which params of the selected nodes its node exposes (so
 * each instance can set them).
 */
import type { LGraphNode } from '@comfyorg/litegraph';
import type { KinegraphNode } from './node-types.js';
import { controlsOf } from './node-types.js';

/** Asks for the subgraph's name and exposed params; undefined when cancelled. */
export function askSubgraph(
  nodes: readonly LGraphNode[],
): Promise<{ name: string; params: { node: string; param: string }[] } | undefined> {
  const dialog = document.createElement('dialog');
  dialog.className = 'kg-dialog';
  dialog.innerHTML =
    '<h3>Convert to subgraph</h3><div class="kg-dialog-body"><label>Name<input class="kg-dialog-field" name="name" type="text"></label>' +
    '<p class="muted small">Params to show on the subgraph node (each instance can set them; the rest stay inside):</p>' +
    '<div class="expose-list"></div></div><div class="kg-dialog-actions"><button type="button" class="cancel">Cancel</button><button type="button" class="primary">Convert</button></div>';
  const name = dialog.querySelector('input[name="name"]') as HTMLInputElement;
  name.value = 'Subgraph';
  const list = dialog.querySelector('.expose-list')!;
  for (const node of nodes as KinegraphNode[]) {
    if (!node.description) continue;
    const controls = controlsOf(node.description);
    if (!controls.length) continue;
    const box = document.createElement('fieldset');
    const legend = document.createElement('legend');
    legend.textContent = `${node.title} (${String(node.id)})`;
    box.append(legend);
    for (const [param] of controls) {
      const label = document.createElement('label');
      const check = Object.assign(document.createElement('input'), { type: 'checkbox' });
      check.dataset.node = String(node.id);
      check.dataset.param = param;
      label.append(check, ` ${param}`);
      box.append(label);
    }
    list.append(box);
  }
  document.body.append(dialog);
  dialog.addEventListener('keydown', (e) => e.stopPropagation());
  return new Promise((resolve) => {
    let result: { name: string; params: { node: string; param: string }[] } | undefined;
    const ok = () => {
      const params = [...dialog.querySelectorAll<HTMLInputElement>('input[type="checkbox"]:checked')].map((c) => ({
        node: c.dataset.node!,
        param: c.dataset.param!,
      }));
      result = { name: name.value.trim() || 'Subgraph', params };
      dialog.close();
    };
    dialog.querySelector('button.primary')!.addEventListener('click', ok);
    dialog.querySelector('button.cancel')!.addEventListener('click', () => dialog.close());
    name.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') ok();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(result);
    });
    dialog.showModal();
    name.focus();
    name.select();
  });
}
