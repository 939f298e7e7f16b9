/**
 * The package as it ships, not as the tests import it from src/: the build (tsup.config.ts, run
 * here without declarations into a scratch folder inside the repository, so the repository's
 * node_modules resolve the external packages) checked in child processes under plain Node —
 * what importing the root loads, that no third-party code is bundled, that error classes keep
 * their names and identity across entries, that CommonJS can require every entry, and that the
 * exports map and the command point at files the build makes. compat/ does the same from a packed
 * tarball in a fresh application.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOptions, publicEntries } from "../../tsup.config.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const outDir = join(root, "test", ".tmp", `dist-${process.pid}`);
const manifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  version: string;
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
};
const loadedPackages = join(root, "compat", "support", "loaded-packages.mjs");

/** Runs a script under the Node running the tests and returns what it printed. */
const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const built = (file: string) => join(outDir, file);

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({ ...buildOptions, outDir, dts: false, config: false, silent: true });
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe("the built package", () => {
  it("loads neither a native driver, pg nor the tokenizer when the root is imported", () => {
    const { packages } = JSON.parse(node([loadedPackages, built("index.js")])) as { packages: string[] };
    // zod is loaded by the root: the probe sees packages, so an empty answer cannot pass.
    expect(packages).toContain("zod");
    expect(packages.filter((name) => ["better-sqlite3", "pg", "@dqbd/tiktoken"].includes(name) || name.startsWith("pg-"))).toEqual([]);
  });

  it("bundles no third-party code: every package stays an import", () => {
    const files = readdirSync(outDir).filter((file) => file.endsWith(".js"));
    const code = files.map((file) => readFileSync(built(file), "utf8"));
    // esbuild marks each module it bundles with a `// path` comment; none may come from node_modules.
    expect(files.filter((_, i) => code[i]!.includes("// node_modules/"))).toEqual([]);
    expect(code.some((text) => /from "zod"/.test(text))).toBe(true);
    expect(code.filter((text) => /class ProxyTracer|class BasicTracerProvider|class ZodType/.test(text))).toEqual([]);
  });

  it("keeps error class names, and one class across entries", () => {
    const script = `
      const rootEntry = await import(${JSON.stringify(built("index.js"))});
      const storeEntry = await import(${JSON.stringify(built("store.js"))});
      const error = new rootEntry.NotFoundError("rollout", "r-1");
      const store = new storeEntry.MemoryStore({ watchdogIntervalMs: false });
      const thrown = await store.getRollout("missing").catch((e) => e);
      await store.close();
      console.log(JSON.stringify({ name: error.name, text: String(error), crossEntry: thrown instanceof rootEntry.NotFoundError, thrownName: thrown.name }));`;
    const result = JSON.parse(node(["--input-type=module", "-e", script])) as Record<string, unknown>;
    expect(result).toEqual({ name: "NotFoundError", text: "NotFoundError: rollout 'r-1' not found", crossEntry: true, thrownName: "NotFoundError" });
  });

  it("can be required from CommonJS, every entry", () => {
    const names = Object.keys(publicEntries);
    const script = names.map((name) => `require(${JSON.stringify(built(`${name}.js`))});`).join("\n") + "\nconsole.log('required');";
    expect(node(["-e", script]).trim()).toBe("required");
  });

  it("has a built file for every exports target, and an exports subpath for every entry", () => {
    const targets = Object.entries(manifest.exports).filter(([subpath]) => subpath !== "./package.json");
    expect(targets.map(([subpath]) => subpath).sort()).toEqual(Object.keys(publicEntries).map((name) => (name === "index" ? "." : `./${name}`)).sort());
    for (const [subpath, conditions] of targets) {
      expect(typeof conditions, subpath).toBe("object");
      const map = conditions as Record<string, string>;
      expect(Object.keys(map), subpath).toEqual(["types", "import", "default"]);
      expect(map.default, subpath).toBe(map.import);
      expect(existsSync(built(map.import!.replace("./dist/", ""))), `${subpath} → ${map.import}`).toBe(true);
    }
  });

  it("has a runnable command that prints the package version, and the worker entry beside the chunks", () => {
    const cli = built(manifest.bin.tracetrain!.replace("./dist/", ""));
    expect(readFileSync(cli, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(node([cli, "--version"]).trim()).toBe(manifest.version);
    expect(node([cli, "runner", "--help"])).toMatch(/^usage:\n {2}tracetrain runner /);
    // src/runner/worker-pool.ts finds it as new URL("./worker-main.js", import.meta.url) from a chunk.
    expect(existsSync(built("worker-main.js"))).toBe(true);
  });

  it("writes a `tracetrain init` project from the built command alone, with its own version as the dependency", () => {
    const cli = built(manifest.bin.tracetrain!.replace("./dist/", ""));
    const project = join(outDir, "init-project");
    expect(node([cli, "init", project, "--framework", "langchain"])).toContain("npm start");
    const written = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    expect(written.dependencies).toMatchObject({ tracetrain: `^${manifest.version}`, "@langchain/openai": "^1.0.0" });
    expect(readFileSync(join(project, "agent.ts"), "utf8")).toContain('import { ChatOpenAI } from "@langchain/openai";');
    expect(readdirSync(project).sort()).toEqual([".gitignore", "README.md", "agent.ts", "main.ts", "mock-model.ts", "package.json", "tasks.jsonl", "tickets.ts", "tsconfig.json"]);
  });
});
