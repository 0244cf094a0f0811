/**
 * The program a plugin process runs (built as `dist/plugin-host.js`): it loads one plugin package and
 * serves the runtime's calls over the channel on file descriptor 3, under the permission flags the
 * runtime started it with.
 *
 * Everything here runs before the plugin's code is imported, so what it keeps (the channel, the globals
 * snapshot) is out of the plugin's reach unless the plugin goes looking for it in its own process — where
 * it finds nothing of the runtime's but its own calls.
 */

import { serve } from './serve.js';

serve();
