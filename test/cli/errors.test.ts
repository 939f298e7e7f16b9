/**
 * How `tracetrain` fails: one line on stderr, exit 2 for what the user can fix, no stack trace
 * unless asked for with --debug or TRACETRAIN_DEBUG=1.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { NotFoundError, StoreUnavailableError, TracetrainError } from "tracetrain";
import { SqliteStore } from "tracetrain/store";
import { describeFailure } from "../../src/cli/errors.js";
import { freePort, startTracetrain } from "../support/processes.js";

const dir = mkdtempSync(join(tmpdir(), "tracetrain-cli-errors-"));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `tracetrain ARGS` to the end: its exit code and everything it printed. */
async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  const cli = startTracetrain(args, env, children);
  const code = await cli.exited;
  return { code, out: cli.out.text };
}

/** Runs the commands a few at a time: each is a Node process on a shared machine. */
async function runAll(commands: string[][], env: Record<string, string> = {}): Promise<Array<{ code: number | null; out: string }>> {
  const results: Array<{ code: number | null; out: string }> = [];
  for (let i = 0; i < commands.length; i += 3) results.push(...(await Promise.all(commands.slice(i, i + 3).map((args) => run(args, env)))));
  return results;
}

/** One line, prefixed, without a stack frame. */
function expectOneLine(out: string): void {
  expect(out).toMatch(/^tracetrain: [^\n]+\n$/);
  expect(out).not.toMatch(/\n\s+at /);
}

describe("tracetrain usage mistakes", () => {
  it("answers a mistyped option, a missing value or a stray argument of every command with one line and exit 2", async () => {
    const cases: Array<[string[], string]> = [
      [["store", "serve", "--bogus"], "invalid command line: --bogus: unknown option (see tracetrain store serve --help)"],
      [["runner", "--bogus"], "invalid command line: --bogus: unknown option (see tracetrain runner --help)"],
      [["runner", "--concurency", "3"], "--concurency: unknown option; did you mean --concurrency? (see tracetrain runner --help)"],
      [["export", "--store"], "--store: expected a value (--store URL) (see tracetrain export --help)"],
      [["export", "--store", "memory", "--format"], "--format: expected a value (--format chat|hf|tokens|sft-tokens) (see tracetrain export --help)"],
      [["gateway", "--bogus"], "--bogus: unknown option (see tracetrain gateway --help)"],
      [["backend", "serve", "--port", "--reference"], "--port: expected a value (--port PORT) (see tracetrain backend serve --help)"],
      [["demo", "--steps=3", "more"], "more: unexpected argument (options are written --name value) (see tracetrain demo --help)"],
      [["store", "serve", "--insecure=yes"], "--insecure: takes no value (see tracetrain store serve --help)"],
      [["dataset", "check"], "FILE: required (see tracetrain dataset check --help)"],
      [["store"], "store: expected serve after it (see tracetrain store --help)"],
      [["backend", "start"], 'backend: unknown subcommand "start": expected serve (see tracetrain backend --help)'],
      [["trian"], "trian: unknown command (see tracetrain --help)"],
    ];
    const results = await runAll(cases.map(([args]) => args));
    results.forEach(({ code, out }, i) => {
      const [args, message] = cases[i]!;
      expect(code, args.join(" ")).toBe(2);
      expectOneLine(out);
      expect(out, args.join(" ")).toContain(message);
    });
  }, 180_000);

  it("prints the stack trace after the line only with --debug or TRACETRAIN_DEBUG=1", async () => {
    const [flag, variable, plain] = await Promise.all([
      run(["runner", "--debug", "--bogus"]),
      run(["runner", "--bogus"], { TRACETRAIN_DEBUG: "1" }),
      run(["runner", "--bogus"], { TRACETRAIN_DEBUG: "" }),
    ]);
    for (const { code, out } of [flag, variable]) {
      expect(code).toBe(2);
      expect(out).toMatch(/^tracetrain: invalid command line: --bogus: unknown option \(see tracetrain runner --help\)\nUsageError: [^\n]+\n\s+at /);
    }
    expect(plain.code).toBe(2);
    expectOneLine(plain.out);
  }, 180_000);
});

describe("tracetrain system errors", () => {
  it("explains a port in use, a path that cannot be created and an agent module that is not there, with exit 2", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    const file = join(dir, "a-file");
    writeFileSync(file, "not a folder");
    const store = join(dir, "existing.db");
    await new SqliteStore(store, { watchdogIntervalMs: false }).close();
    try {
      const [inUse, storePath, outFile, agent] = await runAll([
        ["store", "serve", "--store", "memory", "--port", String(port)],
        ["store", "serve", "--store", `sqlite:${join(file, "runs", "x.db")}`, "--port", "0"],
        ["export", "--store", `sqlite:${store}`, "--format", "chat", "--out", join(dir, "no-such-folder", "out.jsonl")],
        ["runner", "--store", "http://127.0.0.1:9", "--agent", join(dir, "agent.js")],
      ]);
      expect(inUse).toEqual({ code: 2, out: `tracetrain: cannot listen on 127.0.0.1:${port}: the port is already in use (stop what listens there, or pick another --port)\n` });
      expect(storePath).toEqual({ code: 2, out: `tracetrain: cannot create the folder ${join(file, "runs")}: a part of the path is not a directory\n` });
      expect(outFile).toEqual({ code: 2, out: `tracetrain: cannot open ${join(dir, "no-such-folder", "out.jsonl")}: no such file or directory\n` });
      expect(agent).toEqual({ code: 2, out: `tracetrain: invalid command line: --agent: no such file: ${join(dir, "agent.js")} (see tracetrain runner --help)\n` });
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 120_000);

  it("export refuses a SQLite store that does not exist (exit 2) and creates nothing", async () => {
    const missing = join(dir, "typo", "tracetrain.db");
    const out = join(dir, "never-written.jsonl");
    const result = await run(["export", "--store", `sqlite:${missing}`, "--format", "chat", "--out", out]);
    expect(result).toEqual({ code: 2, out: `tracetrain: no store at ${missing}: the file does not exist\n` });
    expect(existsSync(join(dir, "typo"))).toBe(false);
    expect(existsSync(out)).toBe(false);
  }, 180_000);

  it("gives up on a store server that is not there within the default retries, naming its URL (export and runner)", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const agent = join(dir, "agent.mjs");
    writeFileSync(agent, 'export const agent = () => 1;\n');
    const [exported, runner] = await Promise.all([
      run(["export", "--store", url, "--format", "tokens"]),
      run(["runner", "--store", url, "--agent", agent]),
    ]);
    for (const { code, out } of [exported, runner]) {
      expect(code).toBe(2);
      // The retry warning, then the failure: no stack trace.
      expect(out).not.toMatch(/\n\s+at /);
      expect(out).toMatch(new RegExp(`tracetrain: cannot reach the store at ${url} \\(connect ECONNREFUSED [^)]+\\); gave up after 9 tries over [\\d.]+ s`));
    }
  }, 90_000);
});

describe("tracetrain dataset check", () => {
  it("counts the rows of a good file and names file:line of a bad one, with exit 2", async () => {
    const good = join(dir, "tasks.csv");
    writeFileSync(good, 'question,answer\r\n"1+1, in words",two\r\n2+2,four\r\n');
    const bad = join(dir, "tasks.jsonl");
    writeFileSync(bad, `${['{"q":1}', '{"q":2}', '{"q":3}', '{"q":4}', '{"q":5}', '{"q":6}', '{"q":7,}'].join("\n")}\n`);
    const asJson = join(dir, "tasks.data");
    writeFileSync(asJson, '{"tasks": [1, 2, 3]}');
    const [ok, broken, forced] = await Promise.all([run(["dataset", "check", good]), run(["dataset", "check", bad]), run(["dataset", "check", asJson, "--format", "json"])]);
    expect(ok).toEqual({ code: 0, out: `${good}: 2 rows; fields of the first row: question, answer\n` });
    expect(broken).toEqual({ code: 2, out: `tracetrain: ${bad}:7:8: not JSON: expected a double-quoted property name\n` });
    expect(forced).toEqual({ code: 0, out: `${asJson}: 3 rows\n` });
  }, 180_000);
});

describe("describeFailure", () => {
  it("gives exit 1 and the way to the stack for an unexpected error, and keeps messages of deliberate errors", () => {
    expect(describeFailure(new TypeError("x is not a function"), "runner")).toEqual({
      exitCode: 1,
      message: "unexpected error: TypeError: x is not a function (run again with --debug (or TRACETRAIN_DEBUG=1) for the stack trace)",
    });
    expect(describeFailure(new StoreUnavailableError("cannot reach the store at http://h:1"), "export")).toEqual({ exitCode: 2, message: "cannot reach the store at http://h:1" });
    expect(describeFailure(new NotFoundError("store", "/x.db", "no store at /x.db"), "export")).toEqual({ exitCode: 2, message: "no store at /x.db" });
    // A rollout that is not found is not the user's typo: it keeps exit 1.
    expect(describeFailure(new NotFoundError("rollout", "ro-1"), "export").exitCode).toBe(1);
    expect(describeFailure(new TracetrainError("unauthorized", "the store answered 401"), "export")).toEqual({ exitCode: 1, message: "the store answered 401" });
    const missingModule = Object.assign(new Error("Cannot find package 'openai' imported from /app/agent.js"), { code: "ERR_MODULE_NOT_FOUND" });
    expect(describeFailure(missingModule, "runner")).toEqual({ exitCode: 2, message: "Cannot find package 'openai' imported from /app/agent.js" });
    const denied = Object.assign(new Error("EACCES: permission denied, open '/srv/out.jsonl'"), { code: "EACCES", syscall: "open", path: "/srv/out.jsonl" });
    expect(describeFailure(denied, "export")).toEqual({ exitCode: 2, message: "cannot open /srv/out.jsonl: permission denied" });
  });
});
