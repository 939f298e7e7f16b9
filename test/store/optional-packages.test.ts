/**
 * better-sqlite3, pg and @dqbd/tiktoken are loaded only by the feature that needs them, from the
 * application's node_modules, and a missing one is a MissingDependencyError naming the package and
 * the command that installs it. Checked in fresh child processes: this test process has loaded
 * them all long ago.
 */
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MissingDependencyError } from "tracetrain";
import { errorBody, errorFromBody } from "../../src/http/index.js";
import { usableSqliteDrivers } from "./helpers.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const fixture = (name: string) => join(repo, "test/store/fixtures", name);
const tsx = pathToFileURL(join(repo, "node_modules/tsx/dist/esm/index.mjs")).href;

/** Runs a fixture with tsx under this Node and returns the JSON line it printed. */
function runFixture<T>(name: string, args: string[]): T {
  // No NODE_PATH: a package must be found through node_modules folders, as in an application.
  const { NODE_PATH: _, ...env } = process.env;
  const child = spawnSync(process.execPath, ["--import", tsx, fixture(name), ...args], { encoding: "utf8", env, timeout: 60_000 });
  expect(child.status, child.stderr).toBe(0);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as T;
}

describe("importing tracetrain", () => {
  it("loads neither better-sqlite3, pg, @dqbd/tiktoken nor node:sqlite — through the root or any subpath entry", () => {
    const entries = readdirSync(join(repo, "src/entries")).map((file) => join(repo, "src/entries", file));
    const modules = [join(repo, "src/index.ts"), ...entries].map((path) => pathToFileURL(path).href);
    const { afterImport, afterControl } = runFixture<{ afterImport: string[]; afterControl: string[] }>("loaded-packages.ts", modules);
    expect(afterImport).toEqual([]);
    // The control: the same check sees each package once the process has imported it.
    expect(afterControl).toEqual(["better-sqlite3", "pg", "@dqbd/tiktoken"]);
  });
});

interface Outcome {
  ok?: true;
  driver?: string;
  error?: string;
  code?: string;
  packageName?: string;
  message?: string;
}
interface Report {
  outcomes: Record<"root" | "postgres" | "betterSqlite3" | "sqliteByDefault" | "memory" | "o200k", Outcome>;
  appCopyOfPg: boolean;
}

/**
 * An application folder with tracetrain installed in its node_modules (a copy of src/, run by tsx)
 * next to zod and eventemitter3, its only packages loaded at import — and nothing else.
 */
describe("a feature whose package the application has not installed", () => {
  let app: string;
  let tracetrain: string;
  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), "tracetrain-app-"));
    tracetrain = join(app, "node_modules", "tracetrain");
    cpSync(join(repo, "src"), join(tracetrain, "src"), { recursive: true });
    writeFileSync(join(tracetrain, "package.json"), JSON.stringify({ name: "tracetrain", type: "module" }));
    for (const name of ["zod", "eventemitter3"]) symlinkSync(join(repo, "node_modules", name), join(app, "node_modules", name));
  });
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  const missing = (packageName: string): Outcome => ({
    error: "MissingDependencyError",
    code: "missing_dependency",
    packageName,
    message: expect.stringContaining(`needs the "${packageName}" package, which is not installed: run \`npm install ${packageName}\``) as string,
  });

  it("throws MissingDependencyError naming the package and the install command, and only when the feature is used", () => {
    const { outcomes, appCopyOfPg } = runFixture<Report>("missing-packages.ts", [tracetrain]);
    expect(outcomes.root).toEqual({ ok: true });
    expect(outcomes.memory).toEqual({ ok: true });
    expect(outcomes.postgres).toEqual(missing("pg"));
    expect(outcomes.betterSqlite3).toEqual(missing("better-sqlite3"));
    expect(outcomes.o200k).toEqual(missing("@dqbd/tiktoken"));
    expect(appCopyOfPg).toBe(false);
    if (usableSqliteDrivers().includes("node:sqlite")) {
      // Nothing to install: the default driver is built into this Node.
      expect(outcomes.sqliteByDefault).toEqual({ ok: true, driver: "node:sqlite" });
    } else {
      expect(outcomes.sqliteByDefault).toEqual(missing("better-sqlite3"));
      expect(outcomes.sqliteByDefault.message).toContain("or run on Node 22.16 or later (or 24), where SqliteStore uses the built-in node:sqlite");
    }
  });

  it("uses the application's own copy once it is installed, and says so when an installed one cannot load", () => {
    // A stand-in for the app's pg that marks itself loaded: tracetrain must find it in the app's node_modules.
    writePackage("pg", `globalThis.appCopyOfPg = true;
      class Client { constructor(config) { this.config = config; } }
      class Pool { constructor(config) { this.config = config; } on() { return this; } async end() {} }
      module.exports = { Client, Pool, types: { getTypeParser: () => (value) => value } };`);
    // A native module built for another Node, as better-sqlite3 is after switching Node versions.
    writePackage("better-sqlite3", `module.exports = function Database() {
        throw new Error("The module 'better_sqlite3.node' was compiled against a different Node.js version using NODE_MODULE_VERSION 1.");
      };`);
    const { outcomes, appCopyOfPg } = runFixture<Report>("missing-packages.ts", [tracetrain]);
    expect(outcomes.postgres).toEqual({ ok: true });
    expect(appCopyOfPg).toBe(true);
    expect(outcomes.betterSqlite3).toMatchObject({ error: "MissingDependencyError", code: "missing_dependency", packageName: "better-sqlite3" });
    expect(outcomes.betterSqlite3.message).toContain(
      'needs the "better-sqlite3" package, which is installed but cannot be loaded (The module \'better_sqlite3.node\' was compiled against a different Node.js version',
    );
    expect(outcomes.betterSqlite3.message).toContain("run `npm install better-sqlite3` again with the Node version that runs this application");
    expect(outcomes.o200k).toEqual(missing("@dqbd/tiktoken"));
  });

  function writePackage(name: string, source: string): void {
    const dir = join(app, "node_modules", name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "0.0.0", main: "index.js" }));
    writeFileSync(join(dir, "index.js"), source);
  }
});

describe("MissingDependencyError over HTTP", () => {
  it("is a 501 — the server cannot do it and asking again will not help — and arrives as the same typed error", () => {
    const { status, body } = errorBody(new MissingDependencyError("@dqbd/tiktoken", "the o200k tokenizer needs it"));
    expect(status).toBe(501);
    const rebuilt = errorFromBody(status, JSON.parse(JSON.stringify(body)));
    expect(rebuilt).toBeInstanceOf(MissingDependencyError);
    expect(rebuilt).toMatchObject({ code: "missing_dependency", packageName: "@dqbd/tiktoken", message: "the o200k tokenizer needs it" });
  });
});
