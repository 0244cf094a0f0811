import type { Gifenc } from 'gifenc';
import * as gifencModule from 'gifenc';

/**
 * gifenc's functions, whichever way the module was loaded: Node's ESM loader wraps its CommonJS build
 * (everything under `default`), while Vite and bundlers load its ESM build (named exports).
 */
export const gifenc: Gifenc = (gifencModule.GIFEncoder ? gifencModule : gifencModule.default) as Gifenc;
