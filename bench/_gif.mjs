import { encodeGif } from '../packages/nodes/dist/index.js';
