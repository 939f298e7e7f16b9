/**
 * Real second copies of packages, for the tests of what the instrumentations do when an
 * application loads a copy they did not patch. A copy is the installed package's files under
 * another path: Node loads it as a separate module instance, with classes of its own — exactly
 * what a nested or bundled copy is. Copies live under `.tmp/` in the repository (gitignored), so
 * their own dependencies still resolve from the repository's node_modules.
 */
import { cpSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const require = createRequire(import.meta.url);

/** The installed package's folder (real path). */
export function installedRoot(name: string): string {
  return realpathSync(join(repoRoot, "node_modules", name));
}

export function versionOf(root: string): string {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}

/** Copies an installed package to `<base>/node_modules/<name>` (sources, maps and type declarations left out); returns the copy's folder. */
export function copyPackage(name: string, base: string): string {
  const target = join(base, "node_modules", name);
  rmSync(target, { recursive: true, force: true });
  const source = installedRoot(name);
  cpSync(source, target, {
    recursive: true,
    filter: (path) => !/\.(map|d\.ts|d\.mts|d\.cts)$/.test(path) && !path.startsWith(join(source, "src") + sep),
  });
  return target;
}

/** A fresh folder under `.tmp/` for this test file's copies; remove it with {@link removeScratch}. */
export function scratchFolder(label: string): string {
  const folder = join(repoRoot, ".tmp", `${label}-${process.pid}`);
  rmSync(folder, { recursive: true, force: true });
  mkdirSync(folder, { recursive: true });
  return folder;
}

export function removeScratch(folder: string): void {
  rmSync(folder, { recursive: true, force: true });
}

/** Imports a copy's ESM entry (`subpath` under its root) as a separate module instance. */
export async function importFile<T>(file: string): Promise<T> {
  return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as T;
}

/** Requires a copy's CommonJS file (it lands in `require.cache`, as an application's `require` would put it). */
export function requireFile<T>(file: string): T {
  return require(file) as T;
}

/**
 * Another published version of a package, installed as a devDependency under an alias
 * (`"otel-api-1-10": "npm:@opentelemetry/api@1.10.0"`), copied to `<folder>/node_modules/<name>`
 * where an application would have it.
 */
export function aliasedPackage(alias: string, name: string, folder: string): string {
  const target = join(folder, "node_modules", name);
  const source = installedRoot(alias);
  cpSync(source, target, { recursive: true });
  return target;
}

