/** The example workflows the editor offers: every `*.json` workflow in the server's `workflows/` folder. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WORKFLOW_FORMAT } from '@kinegraph/core';
import type { ExampleWorkflow } from '../shared/protocol.js';

/** Reads the examples, skipping files that are not `kinegraph/workflow@1` JSON (a broken file hides only itself). */
export async function listExamples(folder: string): Promise<ExampleWorkflow[]> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const examples: ExampleWorkflow[] = [];
  for (const file of names) {
    try {
      const workflow = JSON.parse(await readFile(join(folder, file), 'utf8')) as {
        format?: unknown;
        name?: unknown;
        description?: unknown;
      };
      if (workflow.format !== WORKFLOW_FORMAT) continue;
      const id = file.slice(0, -'.json'.length);
      examples.push({
        id,
        name: typeof workflow.name === 'string' ? workflow.name : id,
        ...(typeof workflow.description === 'string' ? { description: workflow.description } : {}),
        workflow,
      });
    } catch {}
  }
  return examples;
}
