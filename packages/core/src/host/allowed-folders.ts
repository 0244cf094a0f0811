import { dirname, resolve } from 'node:path';

/**
 * The folders a host lets file-reading nodes read when it runs a workflow file: the workflow's own folder,
 * `inputs/` in the current directory, and any the user added (`kinegraph run --allow <dir>`). Host policy:
 * the scheduler only enforces the list it is given (see `createFileAccess`).
 */
export function defaultAllowedFolders(
  workflowPath: string | undefined,
  extra: readonly string[] = [],
  cwd = process.cwd(),
): string[] {
  const folders = [
    ...(workflowPath ? [dirname(resolve(workflowPath))] : []),
    resolve(cwd, 'inputs'),
    ...extra.map((f) => resolve(cwd, f)),
  ];
  return [...new Set(folders)];
}
