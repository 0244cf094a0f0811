/**
 * The program a plugin process runs (built as `dist/plugin-host.js`): it loads one plugin package and
 * serves the runtime's calls over the channel on file descriptor 3, under the permission flags the
 * runtime started it with. With `--migrate` it instead runs one node's migration chain (read from stdin,
 * answered on file descriptor 3) and exits: validation is synchronous, so migrations of isolated plugins
 * run in a short-lived process the runtime waits for.
 *
 * Everything here runs before the plugin's code is imported, so what it keeps (the channel, the globals
 * snapshot) is out of the plugin's reach unless the plugin goes looking for it in its own process — where
 * it finds nothing of the runtime's but its own calls.
 */

import { migrate } from './migrate.js';
import { serve } from './serve.js';

if (process.argv.includes('--migrate')) {
  migrate().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
} else serve();
