// Server overhead per request: sequential keep-alive requests to a real listening server (after warm-up).
// Run from the repository root after a build: node packages/editor/scripts/bench-server.mjs

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '@kinegraph/core';
import { startServer } from '@kinegraph/editor';

const root = process.cwd();
const cwd = mkdtempSync(join(tmpdir(), 'kg-bench-serve-'));
const runtime = await Runtime.create({ discover: { cwd: root } });
const server = await startServer({ port: 0, cwd, runtime });
const agent = new http.Agent({ keepAlive: true });
const workflow = readFileSync(join(root, 'workflows/text-to-video.json'));

function request(method, path, body) {
  return new Promise((resolve, reject) => {
    const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
    const req = http.request(new URL(path, server.url), { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function bench(name, n, send) {
  for (let i = 0; i < 50; i++) await send();
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await send();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const mean = times.reduce((a, b) => a + b, 0) / n;
  console.log(
    `${name.padEnd(36)} n=${n}  mean ${mean.toFixed(3)} ms  p50 ${times[n >> 1].toFixed(3)} ms  p99 ${times[Math.floor(n * 0.99)].toFixed(3)} ms`,
  );
}

await bench('GET /api/health', 2000, () => request('GET', '/api/health'));
await bench('GET /api/nodes', 500, () => request('GET', '/api/nodes'));
await bench('POST /api/validate (text-to-video)', 500, () => request('POST', '/api/validate', workflow));
await bench('GET /api/runs/unknown (404)', 1000, () => request('GET', '/api/runs/unknown'));
agent.destroy();
await server.close();
await runtime.close();
rmSync(cwd, { recursive: true, force: true });
