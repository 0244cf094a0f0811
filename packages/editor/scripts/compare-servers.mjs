// Request overhead of the editor's server, side by side in one process: this build, an older build given
// as a bundle (before/after a change), and the same four routes on Fastify (the framework the hardening
// issue suggested). Rounds alternate between the servers so machine load hits each alike.
//
//   node packages/editor/scripts/compare-servers.mjs [old-bundle.mjs] [path/to/node_modules/fastify]
//
// The old bundle: `git archive <rev> packages/editor/src | tar -x -C /tmp/old && npx esbuild
// /tmp/old/packages/editor/src/index.ts --bundle --platform=node --format=esm --external:@kinegraph/core
// --external:@kinegraph/nodes --external:ws --outfile=packages/editor/scripts/.old-server.mjs`.
// Fastify is not a dependency of the project: install it in a scratch folder (`npm install fastify@5`).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeNodes, Runtime } from '@kinegraph/core';
import { startServer } from '@kinegraph/editor';

const [oldBundle, fastifyPath] = process.argv.slice(2);
const root = process.cwd();
const cwd = mkdtempSync(join(tmpdir(), 'kg-compare-'));
const runtime = await Runtime.create({ discover: { cwd: root } });
const workflow = readFileSync(join(root, 'workflows/text-to-video.json'));

const servers = [];
servers.push({ name: 'this build', ...(await startServer({ port: 0, cwd, runtime, log: () => undefined })) });
if (oldBundle) {
  const old = await import(pathToFileURL(resolve(oldBundle)).href);
  servers.push({ name: 'old build', ...(await old.startServer({ port: 0, cwd, runtime, log: () => undefined })) });
}
if (fastifyPath) {
  const { default: Fastify } = await import(pathToFileURL(join(resolve(fastifyPath), 'fastify.js')).href);
  const app = Fastify({ logger: false, bodyLimit: 5 * 1024 * 1024 });
  const nodes = describeNodes(runtime.registry);
  app.get('/api/health', async () => ({ ok: true, runs: 0 }));
  app.get('/api/nodes', async () => nodes);
  app.post('/api/validate', async (req) => {
    const result = runtime.validate(req.body);
    return { ok: result.ok, issues: result.issues };
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'RUN_NOT_FOUND', message: `No run "${req.url}".` } }),
  );
  await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push({ name: 'fastify 5', url: `http://127.0.0.1:${app.server.address().port}/`, close: () => app.close() });
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
function request(base, method, path, body) {
  return new Promise((resolvePromise, reject) => {
    const headers = body ? { 'content-type': 'application/json', 'content-length': body.length } : {};
    const req = http.request(new URL(path, base), { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', resolvePromise);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const cases = [
  ['GET /api/health', 'GET', '/api/health'],
  ['GET /api/nodes', 'GET', '/api/nodes'],
  ['POST /api/validate (text-to-video)', 'POST', '/api/validate', workflow],
  ['GET /api/runs/unknown (404)', 'GET', '/api/runs/unknown'],
];
const times = new Map();
for (const s of servers) for (const [name] of cases) times.set(`${s.name}|${name}`, []);
const ROUNDS = 20;
const PER_ROUND = 100;
for (let round = -2; round < ROUNDS; round++) {
  const order = round % 2 ? servers : [...servers].reverse();
  for (const s of order)
    for (const [name, method, path, body] of cases)
      for (let i = 0; i < PER_ROUND; i++) {
        const t = performance.now();
        await request(s.url, method, path, body);
        if (round >= 0) times.get(`${s.name}|${name}`).push(performance.now() - t);
      }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`${ROUNDS} rounds x ${PER_ROUND} keep-alive requests per case and server; medians in ms`);
console.log(
  [
    'request'.padEnd(36),
    ...servers.map((s) => s.name.padStart(12)),
    ...servers.slice(1).map((s) => `this÷${s.name}`.padStart(16)),
  ].join(' '),
);
for (const [name] of cases) {
  const ms = servers.map((s) => median(times.get(`${s.name}|${name}`)));
  console.log(
    [
      name.padEnd(36),
      ...ms.map((m) => m.toFixed(3).padStart(12)),
      ...ms.slice(1).map((m) => `${(ms[0] / m).toFixed(2)}x`.padStart(16)),
    ].join(' '),
  );
}
agent.destroy();
for (const s of servers) await s.close();
await runtime.close();
rmSync(cwd, { recursive: true, force: true });
