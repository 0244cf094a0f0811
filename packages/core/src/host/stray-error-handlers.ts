import { failActiveRuns } from '../scheduler/stray-errors.js';

let installed = false;

/**
 * Once per process: errors thrown outside any node's promise chain (a plugin's throw in a timer) fail the
 * runs in progress with NODE_UNCAUGHT_ERROR instead of ending the process. An error that no run can
 * account for is reported on stderr, and a long-lived host carries on. Host policy, chosen by
 * `Runtime.create({ catchStrayErrors: true })`.
 */
export function installStrayErrorHandlers(): void {
  if (installed) return;
  installed = true;
  const onStray = (error: unknown) => {
    if (failActiveRuns(error) === 0)
      process.stderr.write(
        `kinegraph: an error escaped outside any run: ${error instanceof Error ? error.message : String(error)}\n`,
      );
  };
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
}
