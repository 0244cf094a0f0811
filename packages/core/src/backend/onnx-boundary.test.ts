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
    'in the build, only the inference worker loads it (the main thread never does)',
    () => {
      const importers = files(DIST, /\.js$/)
        .filter((f) => IMPORTS_ORT.test(readFileSync(f, 'utf8')))
        .map((f) => relative(DIST, f));
      expect(importers).toEqual(['inference-worker.js']);
    },
  );
});
