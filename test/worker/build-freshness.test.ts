/**
 * The stale-build guard (worker/build-freshness.ts): `npm run build` records a digest of every compiled source, and the
 * compiled worker warns at start when a source changed or was removed since, naming it; silent when the sources
 * match, and when there is nothing to compare (no build info, or a build deployed without its sources).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_INFO_FILE, staleBuildWarning, writeBuildInfo } from '../../worker/build-freshness';

let root: string;
let outDir: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'signflow-build-freshness-'));
  outDir = path.join(root, 'dist');
  const put = (file: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), text);
  };
  put('worker/main.ts', 'export const a = 1;\n');
  put('cli/main.ts', 'export const b = 2;\n');
  put('dist/worker/main.js', 'exports.a = 1;\n');
  put('dist/cli/main.js', 'exports.b = 2;\n');
  // A copied asset: JavaScript without a TypeScript source, not recorded.
  put('dist/documents/pdf-thread.js', '// thread\n');
  writeBuildInfo(root, outDir);
});

afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('records every compiled source and nothing else', () => {
  const info = JSON.parse(fs.readFileSync(path.join(outDir, BUILD_INFO_FILE), 'utf8')) as {
    sources: Record<string, string>;
  };
  expect(Object.keys(info.sources)).toEqual(['cli/main.ts', 'worker/main.ts']);
});

test('silent while the sources are the ones built', () => {
  expect(staleBuildWarning(root, outDir)).toBeUndefined();
});

test('names a source changed or removed since the build', () => {
  fs.writeFileSync(path.join(root, 'cli/main.ts'), 'export const b = 3;\n');
  expect(staleBuildWarning(root, outDir)).toMatch(/older than the sources.*cli\/main\.ts.*run `npm run build`/);
  fs.rmSync(path.join(root, 'worker/main.ts'));
  const warning = staleBuildWarning(root, outDir);
  expect(warning).toContain('cli/main.ts, worker/main.ts');
});

test('nothing to compare: no build info, or a build without its sources beside it', () => {
  fs.rmSync(path.join(outDir, BUILD_INFO_FILE));
  expect(staleBuildWarning(root, outDir)).toBeUndefined();
  writeBuildInfo(root, outDir);
  fs.rmSync(path.join(root, 'cli'), { recursive: true });
  fs.rmSync(path.join(root, 'worker'), { recursive: true });
  expect(staleBuildWarning(root, outDir)).toBeUndefined();
});
