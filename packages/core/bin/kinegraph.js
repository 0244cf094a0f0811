#!/usr/bin/env node
// The `kinegraph` command: a thin launcher for the built CLI (npm run build -w @kinegraph/core).
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
