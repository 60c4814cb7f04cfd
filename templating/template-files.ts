/**
 * Where each template comes from: the practice's own folder (`SIGNFLOW_TEMPLATES_DIR`) overrides the built-in
 * `templates/` file of the same relative name, file by file; everything it does not hold stays built in. The folder
 * mirrors `templates/`: `documents/honorarvertrag.hbs`, `documents/pruefprotokoll.hbs`, `mail/de/<kind>.<part>.hbs`,
 * `mail/de/partials/<name>.<html|text>.hbs` (docs/templates.md).
 *
 * The worker (and the CLI's `templates` verb) set the folder once at start, after `checkTemplates` found it sound; the
 * renderers ask `templateFile` for every file they compile.
 */
import fs from 'node:fs';
import path from 'node:path';

export const BUILTIN_TEMPLATES_DIR = path.resolve(__dirname, '..', 'templates');

let overrideDir: string | undefined;

/** Sets (or clears, with undefined) the folder whose files override the built-in templates. */
export function useTemplatesDir(dir: string | undefined): void {
  overrideDir = dir ? path.resolve(dir) : undefined;
}

/** The override folder in use, if any. */
export function templatesDirInUse(): string | undefined {
  return overrideDir;
}

/** The absolute path of a template by its name relative to `templates/`: the override when the folder has it. */
export function templateFile(relative: string): string {
  if (overrideDir) {
    const own = path.join(overrideDir, relative);
    if (fs.existsSync(own)) return own;
  }
  return path.join(BUILTIN_TEMPLATES_DIR, relative);
}

/** Every `.hbs` file below a folder, as names relative to it with `/` separators, sorted. */
export function listTemplateFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else out.push(path.relative(root, full).split(path.sep).join('/'));
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out.sort();
}
