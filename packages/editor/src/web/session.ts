/**
 * What survives a reload: the workflow on the canvas and the run its nodes show. Kept per tab
 * (sessionStorage, so two tabs keep their own canvases) and as the last one used (localStorage, for a new
 * tab), like ComfyUI's frontend.
 */
import type { Workflow } from '@kinegraph/core';

const KEY = 'kinegraph.editor.session';

/** A saved canvas. */
export interface Session {
  readonly workflow: Workflow;
  readonly shownRunId?: string;
  readonly savedAt: number;
}

/** The canvas to restore: this tab's, else the last one any tab saved. */
export function readSession(): Session | undefined {
  for (const store of [sessionStorage, localStorage]) {
    try {
      const text = store.getItem(KEY);
      if (!text) continue;
      const session = JSON.parse(text) as Session;
      if (typeof session?.workflow === 'object' && session.workflow !== null) return session;
    } catch {
      // A broken entry is ignored: the editor starts from the default example instead.
    }
  }
  return undefined;
}

/** Saves the canvas (best effort: a full storage only loses the restore). */
export function writeSession(workflow: Workflow, shownRunId: string | undefined): void {
  const text = JSON.stringify({ workflow, ...(shownRunId ? { shownRunId } : {}), savedAt: Date.now() });
  for (const store of [sessionStorage, localStorage]) {
    try {
      store.setItem(KEY, text);
    } catch {
      // Quota exceeded or storage disabled.
    }
  }
}
