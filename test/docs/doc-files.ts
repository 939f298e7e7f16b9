/**
 * The Markdown documents the docs tests read, found by walking the folders (sections move between
 * files; a new guide or example is checked without being listed anywhere).
 */
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";

export interface DocFileOptions {
  /** Also the examples' READMEs: examples/README.md and examples/<name>/README.md. */
  examples?: boolean;
  /** Also docs/reference/ (generated; default true). */
  reference?: boolean;
}

/** README.md and every .md file under docs/, as repository paths with forward slashes, sorted. */
export function docFiles(root: string, options: DocFileOptions = {}): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return walk(path);
      return entry.name.endsWith(".md") ? [path] : [];
    });
  const examples = options.examples
    ? [
        join(root, "examples", "README.md"),
        ...readdirSync(join(root, "examples"), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => join(root, "examples", entry.name, "README.md")),
      ]
    : [];
  return [join(root, "README.md"), ...walk(join(root, "docs")), ...examples]
    .map((path) => relative(root, path).split("\\").join("/"))
    .filter((path) => options.reference !== false || !path.startsWith("docs/reference/"))
    .sort();
}
