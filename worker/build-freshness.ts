/**
 * A guard against a stale production build: `npm run build` records a digest of every TypeScript source it compiled
 * (`dist/build-info.json`), and the compiled worker compares it with the sources of the checkout it sits in when it
 * starts. After an update without `npm run build`, the units would otherwise run the old code without a word; the
 * worker then logs which source changed. A warning, not a refusal: a build deployed without its sources (only `dist/`)
 * has nothing to compare, and an edit on a server must not stop the worker.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export const BUILD_INFO_FILE = 'build-info.json';

interface BuildInfo {
  /** Source file (relative to the checkout, `/`-separated) → sha256 of its content, for every compiled `.ts` file. */
  sources: Record<string, string>;
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The `.ts` sources behind the compiled `.js` files of `outDir` (the copied assets have no source and are skipped). */
function compiledSources(root: string, outDir: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) {
        const source = path.relative(outDir, full).replace(/\.js$/, '.ts');
        if (fs.existsSync(path.join(root, source))) out.push(source.split(path.sep).join('/'));
      }
    }
  };
  walk(outDir);
  return out.sort();
}

/** Written by scripts/build.ts after tsc: the digest of each source compiled into `outDir`. */
export function writeBuildInfo(root: string, outDir: string): void {
  const sources = Object.fromEntries(compiledSources(root, outDir).map((s) => [s, sha256(path.join(root, s))]));
  fs.writeFileSync(path.join(outDir, BUILD_INFO_FILE), `${JSON.stringify({ sources } satisfies BuildInfo)}\n`);
}

/**
 * A warning for the start log when the build in `outDir` was made from other sources than `root` holds now; undefined
 * when they match, or when there is nothing to compare (no build info, or no sources beside the build).
 */
export function staleBuildWarning(root: string, outDir: string): string | undefined {
  let info: BuildInfo;
  try {
    info = JSON.parse(fs.readFileSync(path.join(outDir, BUILD_INFO_FILE), 'utf8')) as BuildInfo;
  } catch {
    return undefined;
  }
  const entries = Object.entries(info.sources);
  if (!entries.some(([source]) => fs.existsSync(path.join(root, source)))) return undefined;
  const changed = entries
    .filter(([source, digest]) => !fs.existsSync(path.join(root, source)) || sha256(path.join(root, source)) !== digest)
    .map(([source]) => source);
  if (changed.length === 0) return undefined;
  const shown = changed.slice(0, 5).join(', ') + (changed.length > 5 ? ` and ${changed.length - 5} more` : '');
  return (
    `the build in ${outDir} is older than the sources beside it (changed or removed since \`npm run build\`: ${shown}); ` +
    'this process runs the code of the last build: run `npm run build` and restart'
  );
}

/** The build folder and checkout this module runs from, when it runs compiled (`dist/worker/…`); else undefined. */
export function ownBuild(): { root: string; outDir: string } | undefined {
  if (path.extname(__filename) !== '.js') return undefined;
  const outDir = path.resolve(__dirname, '..');
  return { root: path.dirname(outDir), outDir };
}
