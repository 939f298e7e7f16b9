/**
 * `tracetrain init [DIR] [--framework NAME] [--force]`: writes a small project — an agent for the
 * chosen framework, tickets to route, simulated models, and a main program that evaluates the agent
 * and optimizes its prompt with APO — that runs at once, offline, with `npm install && npm start`.
 */
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { CommandError, UsageError } from "../errors.js";
import { parseArguments } from "../options.js";
import { packageManifest } from "../version.js";
import { FRAMEWORK_NAMES, type FrameworkName, projectFiles } from "./templates/index.js";

export { FRAMEWORK_NAMES, type FrameworkName, projectFiles } from "./templates/index.js";

export async function initCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArguments("init", args, { framework: { type: "string", default: "openai" }, force: { type: "boolean", default: false } }, ["[DIR]"]);
  const framework = frameworkOf(values.framework);
  const dir = resolve(positionals[0] ?? ".");
  const files = projectFiles(framework, packageNameOf(dir), packageManifest());
  await prepareFolder(dir, values.force);
  for (const file of files) await writeFile(join(dir, file.path), file.text);
  process.stdout.write(nextSteps(dir, framework, files.map((file) => file.path)));
  return 0;
}

function frameworkOf(text: string): FrameworkName {
  const name = FRAMEWORK_NAMES.find((known) => known === text);
  if (name === undefined) throw new UsageError("--framework", `expected ${FRAMEWORK_NAMES.slice(0, -1).join(", ")} or ${FRAMEWORK_NAMES.at(-1)}, got ${text}`);
  return name;
}

/**
 * Creates `dir`, or checks the one there is empty — a `.git` folder aside — unless `force`, which
 * writes the project's files over same-named ones and leaves the others alone.
 */
async function prepareFolder(dir: string, force: boolean): Promise<void> {
  const existing = await stat(dir).catch((error: unknown) => {
    // Not there (ENOTDIR: a part of the path is a file): mkdir below reports what stops it.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  });
  if (existing === undefined) {
    await mkdir(dir, { recursive: true });
    return;
  }
  if (!existing.isDirectory()) throw new CommandError(`${dir} is a file, not a folder: name a new or empty folder for the project`);
  const entries = (await readdir(dir)).filter((entry) => entry !== ".git");
  if (entries.length > 0 && !force) {
    const shown = entries.slice(0, 3).join(", ") + (entries.length > 3 ? ", …" : "");
    throw new CommandError(`${dir} is not empty (${shown}): name a new or empty folder, or add --force to write the project's files into it (files of the same name are replaced)`);
  }
}

/** An npm package name from the folder's name: lower case, letters, digits, `-`, `.` and `_`. */
function packageNameOf(dir: string): string {
  const name = basename(dir).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+|-+$/g, "");
  return name === "" ? "tracetrain-agent" : name;
}

function nextSteps(dir: string, framework: FrameworkName, files: readonly string[]): string {
  const where = relative(process.cwd(), dir);
  const cd = where === "" ? [] : [`  cd ${/[\s'"$`\\]/.test(where) ? JSON.stringify(where) : where}`];
  return [
    `Created a tracetrain project (${framework}) in ${where === "" ? "this folder" : where}: ${files.join(", ")}`,
    "",
    "Next:",
    ...cd,
    "  npm install",
    "  npm start     # evaluates the agent, optimizes its prompt with APO, prints a before/after table (offline)",
    "",
    "README.md says how to run it against a real endpoint and how to put your own agent in.",
    "",
  ].join("\n");
}
