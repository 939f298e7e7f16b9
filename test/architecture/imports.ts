/**
 * Reads every import in src/ with the TypeScript compiler: static imports and re-exports (with
 * whether they are type-only), `import()` calls and `import("…")` types.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

export interface ImportEdge {
  /** The importing file, relative to src/ (`store/base-store.ts`). */
  from: string;
  /** The imported file relative to src/ for a relative import, else the package specifier. */
  to: string;
  /** A relative import (inside src/), as opposed to a package. */
  internal: boolean;
  /** Erased at runtime: `import type`, `export type`, all-`type` named imports, `import("…")` types. */
  typeOnly: boolean;
  /** `import()` at run time: loaded only when that code runs. */
  dynamic: boolean;
  line: number;
}

export function sourceFiles(root: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ts")) files.push(path);
    }
  };
  walk(root);
  return files.sort();
}

function isTypeOnly(node: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(node)) {
    if (node.isTypeOnly) return true;
    const clause = node.exportClause;
    return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
  }
  const clause = node.importClause;
  if (clause === undefined) return false; // a side-effect import
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

export function readImports(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of sourceFiles(root)) {
    const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    const add = (literal: ts.Node, typeOnly: boolean, dynamic: boolean) => {
      if (!ts.isStringLiteralLike(literal)) return;
      const specifier = literal.text;
      const internal = specifier.startsWith(".");
      const to = internal ? relative(root, resolve(dirname(file), specifier.replace(/\.js$/, ".ts"))).split(sep).join("/") : specifier;
      const line = source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1;
      edges.push({ from: relative(root, file).split(sep).join("/"), to, internal, typeOnly, dynamic, line });
    };
    const visit = (node: ts.Node) => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) add(node.moduleSpecifier, isTypeOnly(node), false);
      else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) add(node.arguments[0], false, true);
      else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true, false);
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return edges;
}

/** The top-level folder of a path relative to src/ (`store` for `store/sqlite/schema.ts`); `.` for a file at the top. */
export function roomOf(path: string): string {
  const slash = path.indexOf("/");
  return slash === -1 ? "." : path.slice(0, slash);
}

/**
 * The folder an import enters without being inside it — the topmost folder that holds the target
 * but not the importer — or undefined when it enters none (a sibling, or a file of an ancestor).
 */
export function enteredFolder(from: string, to: string): string | undefined {
  const parts = to.split("/");
  for (let i = 1; i < parts.length; i++) {
    const folder = parts.slice(0, i).join("/");
    if (!from.startsWith(`${folder}/`)) return folder;
  }
  return undefined;
}

/** Strongly connected components with more than one member (Tarjan), i.e. the cycles of a graph. */
export function cycles(graph: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (node: string) => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indices.get(next)!));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || graph.get(node)?.has(node)) found.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) connect(node);
  return found;
}
