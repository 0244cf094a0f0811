/** Opening, saving and dropping files: workflows (.json), media that carries one, and inputs to upload. */
import type { Workflow } from '@kinegraph/core';
import type { UploadResult } from '../shared/protocol.js';
import { ApiError, call } from './api.js';
import type { EditorApp } from './app.js';

/** What file handling tells the page. */
export interface FileEvents {
  toast(text: string, kind?: 'info' | 'error'): void;
  /** A node's params changed outside the inspector (an upload set its path). */
  nodeChanged(nodeId: string): void;
}

/** Loads a workflow, reporting a bad one instead of throwing. The load can be undone. */
export function loadSafely(app: EditorApp, workflow: Workflow, message: string, events: FileEvents): boolean {
  try {
    app.load(workflow, { history: 'record' });
    events.toast(message);
    return true;
  } catch (error) {
    events.toast((error as Error).message, 'error');
    return false;
  }
}

/**
 * A workflow file, or a picture/video Kinegraph made (its embedded workflow). Any other picture or video is
 * an input: it is uploaded, and a loader node for it is added at `at` (graph units; default: mid-view).
 */
export async function openFile(app: EditorApp, file: File, events: FileEvents, at?: [number, number]): Promise<void> {
  try {
    if (file.name.endsWith('.json') || file.type === 'application/json') {
      let workflow: Workflow;
      try {
        workflow = JSON.parse(await file.text()) as Workflow;
      } catch (error) {
        events.toast(`${file.name} is not JSON: ${(error as Error).message}`, 'error');
        return;
      }
      loadSafely(app, workflow, `Opened ${file.name}`, events);
      return;
    }
    let workflow: Workflow;
    try {
      ({ workflow } = await call<{ workflow: Workflow }>('/api/workflows/extract', { method: 'POST', body: file }));
    } catch (error) {
      // A picture or video that Kinegraph did not make is an input: upload it and add a loader for it.
      if (error instanceof ApiError && error.body.error.code === 'NO_EMBEDDED_WORKFLOW')
        return await uploadAsInput(app, file, events, at);
      throw error;
    }
    loadSafely(app, workflow, `Loaded the workflow embedded in ${file.name}`, events);
  } catch (error) {
    events.toast(
      error instanceof ApiError
        ? `${error.body.error.message} ${error.body.error.hint ?? ''}`
        : `Cannot open ${file.name}: ${(error as Error).message}`,
      'error',
    );
  }
}

async function uploadAsInput(app: EditorApp, file: File, events: FileEvents, at?: [number, number]): Promise<void> {
  const video = /^video\//.test(file.type) || /\.(mp4|webm|gif)$/i.test(file.name);
  const kind = video ? 'video' : 'image';
  const result = await call<UploadResult>(`/api/uploads?kind=${kind}&name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    body: file,
  });
  const type = video ? 'kinegraph/load-video' : 'kinegraph/load-image';
  // The node's top-left corner under the pointer, below its title bar.
  const node = app.addNode(type, at ? [at[0], at[1]] : undefined);
  if (node) {
    node.setParam('path', result.path);
    app.changed();
    events.nodeChanged(String(node.id));
  }
  events.toast(`Uploaded ${file.name} as inputs/${result.name}`);
}

/** Downloads the workflow as `<name>.json`. */
export function save(app: EditorApp): void {
  const workflow = app.workflow();
  const name = (workflow.name ?? 'workflow').replace(/[^A-Za-z0-9_-]+/g, '-').toLowerCase() || 'workflow';
  const url = URL.createObjectURL(new Blob([`${JSON.stringify(workflow, null, 2)}\n`], { type: 'application/json' }));
  const a = Object.assign(document.createElement('a'), { href: url, download: `${name}.json` });
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
