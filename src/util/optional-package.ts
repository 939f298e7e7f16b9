import { createRequire } from "node:module";
import { MissingDependencyError } from "../types/index.js";

// Resolved from this file, so from wherever tracetrain is installed: Node walks up from
// `node_modules/tracetrain/dist/` to the application's `node_modules/`. Packages tracetrain lists
// as (optional) peer dependencies are installed there, never nested under tracetrain, so this
// finds the application's own copy — the one its other code uses too.
const require = createRequire(import.meta.url);

/**
 * Loads a CommonJS package that only one feature needs (`pg`, `better-sqlite3`,
 * `@dqbd/tiktoken`) the first time that feature is used, so importing tracetrain loads none of
 * them. Synchronous, so constructors that need the package stay synchronous.
 *
 * @param name the npm package name
 * @param neededBy what needs it, for the message (e.g. `"PostgresStore"`)
 * @param options `alternative`: another way out, appended to the message (e.g. `"or use Node 24"`);
 *   `check`: exercises the loaded package (a native module loads its binary only when first used),
 *   so a package that is installed but unusable fails here too
 * @throws MissingDependencyError naming the package and the command that installs it, when it is
 *   not installed or cannot be loaded.
 */
export function requirePackage<T>(name: string, neededBy: string, options: { alternative?: string; check?: (loaded: T) => void } = {}): T {
  try {
    const loaded = require(name) as T;
    options.check?.(loaded);
    return loaded;
  } catch (error) {
    throw missingPackage(name, neededBy, error, options.alternative === undefined ? "" : `, ${options.alternative}`);
  }
}

function missingPackage(name: string, neededBy: string, error: unknown, alternative: string): MissingDependencyError {
  const install = `npm install ${name}`;
  if (isNotFound(name, error)) {
    return new MissingDependencyError(name, `${neededBy} needs the "${name}" package, which is not installed: run \`${install}\`${alternative}`, { cause: error });
  }
  // Installed but broken: a native module built for another Node version, a package missing one
  // of its own dependencies, … Reinstalling it under the Node that runs the application fixes those.
  // Node spreads a native module's ABI mismatch over several lines; the versions are the useful part.
  const reason = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim().slice(0, 400);
  return new MissingDependencyError(name, `${neededBy} needs the "${name}" package, which is installed but cannot be loaded (${reason}): run \`${install}\` again with the Node version that runs this application${alternative}`, {
    cause: error,
  });
}

/** Whether `error` says that `name` itself (not one of its own dependencies) was not found. */
function isNotFound(name: string, error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "MODULE_NOT_FOUND" && (error as Error).message.startsWith(`Cannot find module '${name}'`);
}
