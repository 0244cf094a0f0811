import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';

const SRC = fileURLToPath(new URL('..', import.meta.url));
const DIST = fileURLToPath(new URL('../../dist', import.meta.url));
// import ... from, import(), require(), and a createRequire(...)(...) call (how backend/onnx.ts loads it).
const IMPORTS_ORT = /(?:from\s+|import\s*\(\s*|require\w*\s*\(\s*|\)\s*\(\s*)['"]onnxruntime-node['"]/;

function files(dir: string, ext: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name), ext) : ext.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('the onnxruntime-node boundary', () => {
  test('exactly one source module imports onnxruntime-node: backend/onnx.ts', () => {
    const importers = files(SRC, /(?<!\.test)\.ts$/)
      .filter((f) => IMPORTS_ORT.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f).split('\\').join('/'));
    expect(importers).toEqual(['backend/onnx.ts']);
  });

  test.skipIf(!existsSync(DIST))(
    'in the build, only the inference worker and the device probe load it (the main thread never does)',
    () => {
      const importers = files(DIST, /\.js$/)
        .filter((f) => IMPORTS_ORT.test(readFileSync(f, 'utf8')))
        .map((f) => relative(DIST, f));
      expect(importers.length).toBeGreaterThan(0);
      // Every file a main-thread entry can load, statically or with import(): none may load onnxruntime-node.
      const mainThread = reachable(['index.js', 'cli.js', 'sdk.js', 'testing.js']);
      expect(importers.filter((f) => mainThread.has(f))).toEqual([]);
      const offMain = reachable(['inference-worker.js', 'device-probe.js']);
      for (const f of importers) expect(offMain.has(f), f).toBe(true);
    },
  );
});

/** The dist files reachable from `entries` through relative imports (static and dynamic). */
function reachable(entries: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file) || !existsSync(join(DIST, file))) continue;
    seen.add(file);
    for (const m of readFileSync(join(DIST, file), 'utf8').matchAll(
      /(?:from\s*|import\s*\(\s*)['"]\.\/([^'"]+\.js)['"]/g,
    ))
      todo.push(m[1]!);
  }
  return seen;
}
