/**
 * Finding the copies of a package the application may load. There can be several: npm nests a
 * second copy under a dependency that needs another major (or under tracetrain itself, when the
 * ranges disagree), and Node loads the ESM and the CommonJS build of one install as two separate
 * modules, each with its own classes. An instrumentation patches every copy found here; a call
 * made by a copy not found (a bundled one, one loaded later from an unexpected place) is caught at
 * run time by the layer below, which records it and says so in the trace report.
 *
 * Where copies are looked for: from tracetrain's own location (what `import(name)` resolves), from
 * the application's entry script and working directory, and from the folders of known dependents
 * (a framework that brings its own copy, e.g. `@langchain/openai` → `openai`); and, for CommonJS,
 * every copy already in `require.cache`, wherever it was installed.
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** One install of a package: its folder (real path) and version. */
export interface PackageCopy {
  readonly name: string;
  readonly root: string;
  readonly version: string | undefined;
}

/** A loaded build of a copy: its module namespace (ESM) or exports (CommonJS). */
export interface LoadedBuild {
  readonly copy: PackageCopy;
  readonly format: "esm" | "cjs";
  readonly module: unknown;
}

type Rec = Record<string, unknown>;

const localRequire = createRequire(import.meta.url);

function isRec(value: unknown): value is Rec {
  return typeof value === "object" && value !== null;
}

/** The folders a package is looked up from, nearest first. */
function baseFolders(): string[] {
  const bases = [dirname(fileURLToPath(import.meta.url))];
  const main = process.argv[1];
  if (main !== undefined) {
    try {
      bases.push(dirname(realpathSync(main)));
    } catch {
      // not a file (node -e, a REPL): the working directory stands for the application
    }
  }
  bases.push(process.cwd());
  return bases;
}

/** Node's lookup: `node_modules/<name>` in `from` or the nearest folder above it that has one. */
function lookUp(name: string, from: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) {
      try {
        return realpathSync(candidate);
      } catch {
        return undefined;
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

const manifests = new Map<string, Rec | undefined>();

function manifestOf(root: string): Rec | undefined {
  if (!manifests.has(root)) {
    let manifest: Rec | undefined;
    try {
      const parsed: unknown = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
      manifest = isRec(parsed) ? parsed : undefined;
    } catch {
      manifest = undefined;
    }
    manifests.set(root, manifest);
  }
  return manifests.get(root);
}

function copyAt(name: string, root: string): PackageCopy {
  const version = manifestOf(root)?.version;
  return { name, root, version: typeof version === "string" ? version : undefined };
}

/**
 * The installs of `name` reachable from the application, tracetrain and `dependents`, and those
 * whose CommonJS build is already loaded. The first is the one `import(name)` from tracetrain gets.
 */
export function findPackageCopies(name: string, dependents: readonly string[] = []): PackageCopy[] {
  const roots = new Set<string>();
  const bases = baseFolders();
  for (const base of bases) {
    const root = lookUp(name, base);
    if (root !== undefined) roots.add(root);
  }
  for (const dependent of dependents) {
    for (const base of bases) {
      const dependentRoot = lookUp(dependent, base);
      const root = dependentRoot === undefined ? undefined : lookUp(name, dependentRoot);
      if (root !== undefined) roots.add(root);
    }
  }
  for (const root of loadedCommonJsRoots(name)) roots.add(root);
  return [...roots].map((root) => copyAt(name, root));
}

/** Roots of the copies of `name` that have a file in `require.cache`. */
function loadedCommonJsRoots(name: string): string[] {
  const marker = `${sep}node_modules${sep}${name.split("/").join(sep)}${sep}`;
  const roots = new Set<string>();
  for (const file of Object.keys(localRequire.cache)) {
    const at = file.lastIndexOf(marker);
    if (at !== -1) roots.add(file.slice(0, at + marker.length - 1));
  }
  return [...roots];
}

/** Whether a CommonJS file of this copy is loaded (then its CommonJS build is in use). */
export function isCommonJsLoaded(copy: PackageCopy): boolean {
  const prefix = copy.root + sep;
  return Object.keys(localRequire.cache).some((file) => file.startsWith(prefix));
}

/** The copy of `name` one of whose loaded CommonJS files exports what `matches` accepts (a class met at run time). */
export function findLoadedCommonJsCopy(name: string, matches: (exports: unknown) => boolean): PackageCopy | undefined {
  const marker = `${sep}node_modules${sep}${name.split("/").join(sep)}${sep}`;
  for (const [file, module] of Object.entries(localRequire.cache)) {
    const at = file.lastIndexOf(marker);
    if (at !== -1 && matches(module?.exports)) return copyAt(name, file.slice(0, at + marker.length - 1));
  }
  return undefined;
}

/** The conditions Node matches in `exports` when importing, and when requiring. */
function conditions(format: "esm" | "cjs"): ReadonlySet<string> {
  // `module-sync` is on wherever require(esm) is (Node ≥ 20.19 / 22.12).
  const requireEsm = (process.features as { require_module?: boolean }).require_module === true;
  return new Set(["node", "default", format === "esm" ? "import" : "require", ...(requireEsm ? ["module-sync"] : [])]);
}

function resolveTarget(target: unknown, active: ReadonlySet<string>): string | undefined {
  if (typeof target === "string") return target;
  if (Array.isArray(target)) {
    for (const item of target) {
      const resolved = resolveTarget(item, active);
      if (resolved !== undefined) return resolved;
    }
    return undefined;
  }
  if (!isRec(target)) return undefined;
  for (const [key, value] of Object.entries(target)) {
    if (!active.has(key)) continue;
    const resolved = resolveTarget(value, active);
    if (resolved !== undefined) return resolved;
  }
  return undefined;
}

/** The `exports` entry for `subpath` (`.` or `./x/y`), exact or through one `*` pattern. */
function exportEntry(exports: unknown, subpath: string): unknown {
  if (!isRec(exports) || Array.isArray(exports)) return subpath === "." ? exports : undefined;
  const keys = Object.keys(exports);
  if (!keys.some((key) => key.startsWith("."))) return subpath === "." ? exports : undefined;
  if (subpath in exports) return exports[subpath];
  for (const key of keys) {
    const star = key.indexOf("*");
    if (star === -1) continue;
    const [prefix, suffix] = [key.slice(0, star), key.slice(star + 1)];
    if (subpath.startsWith(prefix) && subpath.endsWith(suffix) && subpath.length >= key.length - 1) {
      const match = subpath.slice(prefix.length, subpath.length - suffix.length);
      return JSON.parse(JSON.stringify(exports[key]).split("*").join(match)) as unknown;
    }
  }
  return undefined;
}

/** The file Node loads for `import` (esm) or `require` (cjs) of `subpath` in this copy, if it exists. */
export function entryFile(copy: PackageCopy, subpath: string, format: "esm" | "cjs"): string | undefined {
  const manifest = manifestOf(copy.root);
  let relative: string | undefined;
  if (manifest?.exports !== undefined) relative = resolveTarget(exportEntry(manifest.exports, subpath), conditions(format));
  else if (subpath === ".") relative = typeof manifest?.main === "string" ? manifest.main : "index.js";
  else relative = subpath;
  if (relative === undefined) return undefined;
  const file = join(copy.root, relative);
  if (existsSync(file)) return file;
  // `main` may leave out the extension
  return existsSync(`${file}.js`) ? `${file}.js` : undefined;
}

/** Loads a build of `subpath` of this copy; undefined when the copy has no such build. Throws what loading throws. */
export async function loadBuild(copy: PackageCopy, subpath: string, format: "esm" | "cjs"): Promise<unknown> {
  const file = entryFile(copy, subpath, format);
  if (file === undefined) return undefined;
  if (format === "cjs") return localRequire(file) as unknown;
  return (await import(pathToFileURL(file).href)) as unknown;
}

/** How to name a copy in a message: `openai 7.60.0 (/app/node_modules/openai)`. */
export function describeCopy(copy: PackageCopy): string {
  return `${copy.name} ${copy.version ?? "(unknown version)"} (${copy.root})`;
}
