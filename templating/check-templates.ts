/**
 * Checks a templates folder (`SIGNFLOW_TEMPLATES_DIR`) before it is used: every file must be a known template name
 * (templating/catalog.ts), parse as Handlebars, use only the placeholders its template may use, and use the ones it
 * must (itself or through a partial). Each problem names the file, the line and the placeholder, so a practice can fix
 * its own texts without reading code. The worker refuses to start on any problem; `signflow templates check` lists them.
 */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { partialFiles, TEMPLATE_CATALOG, type TemplateSpec } from './catalog';
import { listTemplateFiles, templateFile } from './template-files';

export type TemplateProblemKind = 'unknown-file' | 'syntax' | 'unknown-placeholder' | 'missing-placeholder';

export interface TemplateProblem {
  kind: TemplateProblemKind;
  /** The file as the folder names it, e.g. `mail/de/invitation.text.hbs`. */
  file: string;
  /** 1-based line; for a missing placeholder the file's first line. */
  line: number;
  placeholder?: string;
  message: string;
}

/** Helpers Handlebars brings (and block keywords); anything else called with arguments is an unknown name. */
const BUILTIN_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lookup', 'log']);

interface Use {
  name: string;
  line: number;
}

type Node = hbs.AST.Node & Record<string, unknown>;

/** The placeholders a template uses (unknown ones reported on the way) and the partials it includes. */
function walk(
  program: hbs.AST.Program,
  spec: TemplateSpec,
  report: (name: string, line: number) => void
): { uses: Use[]; partials: string[] } {
  const uses: Use[] = [];
  const partials: string[] = [];
  // A scope is the names valid at that depth: the template's own, or the fields of the list being iterated.
  const visitPath = (p: hbs.AST.PathExpression, scopes: (readonly string[] | 'any')[]) => {
    if (p.data) return; // @index, @first, @partial-block…
    const depth = p.depth ?? 0;
    const scope = scopes[Math.max(0, scopes.length - 1 - depth)] ?? 'any';
    const first = p.parts[0];
    if (first === undefined) return; // `this`
    const line = p.loc?.start.line ?? 1;
    if (scopes.length - 1 - depth <= 0) uses.push({ name: first, line });
    if (scope !== 'any' && !scope.includes(first)) report(first, line);
  };
  const visitExpr = (e: hbs.AST.Expression | undefined, scopes: (readonly string[] | 'any')[]) => {
    if (!e) return;
    if (e.type === 'PathExpression') visitPath(e as hbs.AST.PathExpression, scopes);
    if (e.type === 'SubExpression') {
      const s = e as hbs.AST.SubExpression;
      const helper = (s.path as hbs.AST.PathExpression).original;
      if (!BUILTIN_HELPERS.has(helper)) visitPath(s.path as hbs.AST.PathExpression, scopes);
      s.params.forEach((x) => visitExpr(x, scopes));
      s.hash?.pairs.forEach((x) => visitExpr(x.value, scopes));
    }
  };
  const visit = (node: Node, scopes: (readonly string[] | 'any')[]) => {
    switch (node.type) {
      case 'Program':
        for (const n of (node as unknown as hbs.AST.Program).body) visit(n as Node, scopes);
        return;
      case 'MustacheStatement':
      case 'BlockStatement': {
        const m = node as unknown as Omit<hbs.AST.MustacheStatement, 'type'> & {
          program?: hbs.AST.Program;
          inverse?: hbs.AST.Program;
        };
        const helperName = m.path.type === 'PathExpression' ? (m.path as hbs.AST.PathExpression).original : '';
        const isHelper = BUILTIN_HELPERS.has(helperName) && (m.params.length > 0 || node.type === 'BlockStatement');
        if (!isHelper) visitExpr(m.path as hbs.AST.Expression, scopes);
        m.params.forEach((x) => visitExpr(x, scopes));
        m.hash?.pairs.forEach((x) => visitExpr(x.value, scopes));
        if (node.type === 'BlockStatement') {
          let inner = scopes;
          const param = m.params[0] as hbs.AST.PathExpression | undefined;
          if ((helperName === 'each' || helperName === 'with') && param?.type === 'PathExpression') {
            const list = param.parts[param.parts.length - 1] ?? '';
            inner = [...scopes, spec.itemFields?.[list] ?? 'any'];
          }
          if (m.program) visit(m.program as unknown as Node, inner);
          if (m.inverse) visit(m.inverse as unknown as Node, scopes);
        }
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement': {
        const p = node as unknown as Omit<hbs.AST.PartialStatement, 'type'> & { program?: hbs.AST.Program };
        const name = p.name.type === 'PathExpression' ? (p.name as hbs.AST.PathExpression).original : '';
        if (name !== '@partial-block') partials.push(name);
        p.params.forEach((x) => visitExpr(x, scopes));
        p.hash?.pairs.forEach((x) => visitExpr(x.value, scopes));
        if (p.program) visit(p.program as unknown as Node, scopes);
        return;
      }
      default:
        return;
    }
  };
  visit(program as unknown as Node, [spec.placeholders]);
  return { uses, partials };
}

/**
 * The line to name for a parse error. Handlebars reports an unclosed block at the end of the file ("got 'EOF'"); the
 * line a person must fix is the one that opened the block, so that is named instead.
 */
function syntaxLine(message: string, source: string): number {
  if (/got 'EOF'/.test(message)) {
    const open: { name: string; line: number }[] = [];
    for (const m of source.matchAll(/\{\{~?\s*([#/])>?\s*([\w.-]+)/g)) {
      const line = source.slice(0, m.index).split('\n').length;
      if (m[1] === '#') open.push({ name: m[2] as string, line });
      else if (open.length && open[open.length - 1]?.name === m[2]) open.pop();
    }
    const unclosed = open[open.length - 1];
    if (unclosed) return unclosed.line;
  }
  return Number(/on line (\d+)/.exec(message)?.[1] ?? /line (\d+)/i.exec(message)?.[1] ?? 1);
}

interface Parsed {
  uses: Use[];
  partials: string[];
}

/**
 * Checks the files of `dir` (the override folder) as they would be used: each against its own spec, and the required
 * placeholders of every template against what it uses together with the partials in effect (the folder's or the
 * built-in ones).
 */
export function checkTemplates(dir: string): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    return [{ kind: 'unknown-file', file: dir, line: 1, message: `${dir}: not a folder (SIGNFLOW_TEMPLATES_DIR)` }];
  }
  const own = new Set(listTemplateFiles(dir));
  for (const file of own) {
    if (!(file in TEMPLATE_CATALOG)) {
      problems.push({
        kind: 'unknown-file',
        file,
        line: 1,
        message: `${file}: not a template signflow knows (see docs/templates.md for the names); a misspelt name would be ignored`,
      });
    }
  }
  const parsed = new Map<string, Parsed | undefined>();
  const parse = (file: string): Parsed | undefined => {
    if (parsed.has(file)) return parsed.get(file);
    const spec = TEMPLATE_CATALOG[file] as TemplateSpec;
    const isOwn = own.has(file);
    const source = fs.readFileSync(isOwn ? path.join(dir, file) : templateFileBuiltin(file), 'utf8');
    let result: Parsed | undefined;
    try {
      const ast = Handlebars.parse(source);
      result = walk(ast, spec, (name, line) => {
        if (!isOwn) return;
        problems.push({
          kind: 'unknown-placeholder',
          file,
          line,
          placeholder: name,
          message: `${file}:${line}: unknown placeholder "${name}" (this template knows: ${spec.placeholders.join(', ')})`,
        });
      });
      if (isOwn) {
        for (const partial of result.partials) {
          const line = lineOf(source, `{{>`) ?? 1;
          if (!spec.partials || partialFiles(partial).length === 0) {
            problems.push({
              kind: 'unknown-placeholder',
              file,
              line: lineOf(source, partial) ?? line,
              placeholder: `> ${partial}`,
              message: `${file}:${lineOf(source, partial) ?? line}: unknown partial "${partial}"`,
            });
          }
        }
      }
    } catch (err) {
      const message = (err as Error).message;
      const line = syntaxLine(message, source);
      problems.push({
        kind: 'syntax',
        file,
        line,
        message: `${file}:${line}: syntax error: ${message.split('\n')[0]}`,
      });
    }
    parsed.set(file, result);
    return result;
  };
  for (const file of Object.keys(TEMPLATE_CATALOG)) {
    const spec = TEMPLATE_CATALOG[file] as TemplateSpec;
    const mine = parse(file);
    if (!own.has(file) || !mine || spec.required.length === 0) continue;
    // What the template uses, with the partials it includes (those that exist for its part: html or text).
    const part = file.endsWith('.html.hbs') ? '.html.hbs' : '.text.hbs';
    const used = new Set(mine.uses.map((u) => u.name));
    for (const partial of mine.partials) {
      for (const pf of partialFiles(partial).filter((f) => f.endsWith(part))) {
        for (const u of parse(pf)?.uses ?? []) used.add(u.name);
      }
    }
    for (const name of spec.required) {
      if (!used.has(name)) {
        problems.push({
          kind: 'missing-placeholder',
          file,
          line: 1,
          placeholder: name,
          message: `${file}:1: required placeholder "${name}" is missing (e.g. {{${name}}})`,
        });
      }
    }
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

function templateFileBuiltin(file: string): string {
  return path.join(path.dirname(templateFile('x')), file);
}

function lineOf(source: string, needle: string): number | undefined {
  const i = source.indexOf(needle);
  return i < 0 ? undefined : source.slice(0, i).split('\n').length;
}

/** Thrown at worker start when the folder has problems; the message lists every one. */
export class TemplateCheckError extends Error {
  override readonly name = 'TemplateCheckError';
  constructor(
    readonly dir: string,
    readonly problems: TemplateProblem[]
  ) {
    super(
      `SIGNFLOW_TEMPLATES_DIR ${dir}: ${problems.length} problem(s) in the templates:\n` +
        problems.map((p) => `  ${p.message}`).join('\n')
    );
  }
}

/** Checks the folder and, when it is sound, makes it the override folder in use; throws TemplateCheckError otherwise. */
export function assertTemplates(dir: string): void {
  const problems = checkTemplates(dir);
  if (problems.length > 0) throw new TemplateCheckError(dir, problems);
}
