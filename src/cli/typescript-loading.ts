/** How CLI commands import a `.ts` agent module: by running themselves again under tsx when needed. */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { MissingDependencyError } from "../types/index.js";

/** Whether this process can import TypeScript (it was started with a TypeScript loader). */
export function loadsTypeScript(): boolean {
  return process.execArgv.some((arg) => arg.includes("tsx")) || process.env.TRACETRAIN_TSX === "1";
}

/** Runs this same command again under tsx, so a `.ts` agent module can be imported; resolves with its exit code. */
export function rerunWithTsx(): Promise<number> {
  requireTsx();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...process.execArgv, ...process.argv.slice(1)], {
      stdio: "inherit",
      env: { ...process.env, TRACETRAIN_TSX: "1" },
    });
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
    child.on("error", reject);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** Whether `path` names a TypeScript module this process cannot import yet. */
export function needsTsx(path: string): boolean {
  return /\.[cm]?ts$/.test(path) && !loadsTypeScript();
}

/**
 * Throws unless tsx can be found from the working directory, which is where `node --import tsx`
 * looks: without this check node itself would fail in the child, with a stack trace.
 */
function requireTsx(): void {
  try {
    createRequire(join(process.cwd(), "noop.js")).resolve("tsx");
  } catch (error) {
    throw new MissingDependencyError("tsx", "a .ts agent module needs tsx to load: npm install --save-dev tsx (or point --agent at the compiled .js file)", { cause: error });
  }
}
