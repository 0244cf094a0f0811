#!/usr/bin/env node
// The `kinegraph` command: a thin launcher for the built CLI (npm run build -w @kinegraph/core).
import { main } from '../dist/cli.js';

// Exit explicitly: a plugin node that hung (and was failed by --timeout) may leave timers behind that
// would otherwise keep the process alive after the run has ended. Writes to pipes and files are
// synchronous on Linux, so nothing printed is lost.
process.exit(await main(process.argv.slice(2)));
