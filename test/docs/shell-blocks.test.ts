/**
 * Every shell block of README.md and docs/**\/*.md: each `tracetrain` command is read by the CLI's
 * own parser (checkCommandLine: the command definitions, node's parseArgs, the value checks the
 * command makes) without running it, and must be valid — or, in a `$ ` transcript, fail exactly
 * as the lines after it show. Every other command must be one a reader can run here (an
 * allow-list: npm, cd, curl, python3, export, git, …); a line that is neither fails. Then the real
 * command prints `--help` for every command the docs use, naming every flag they use.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { commandSpec, helpTopicOf } from "../../src/cli/commands.js";
import { describeFailure } from "../../src/cli/errors.js";
import { checkCommandLine } from "../../src/cli/options.js";
import { ValidationError } from "tracetrain";
import { startTracetrain } from "../support/processes.js";
import { docFiles } from "./doc-files.js";
import { type ShellCommand, commandsOf, isPlaceholder, shellBlocks, splitCommands } from "./shell-lines.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
/** The npm scripts of the package in `dir` (a repository path): the repository's, or an example's. */
const scriptsIn = (dir: string) => (JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
const scripts = scriptsIn(".");
/** The package a document's commands run in when no `cd` came first: its own folder's (an example's), else the repository's. */
const packageOf = (file: string) => (existsSync(join(root, dirname(file), "package.json")) ? dirname(file) : ".");

/** Commands a reader may be shown besides `tracetrain`: package managers, the shell's own, and the tools the guides use. */
const ALLOWED = new Set(["npm", "npx", "node", "tsx", "cd", "export", "eval", "source", "curl", "git", "python", "python3", "pip", "uv", "sqlite3", "psql", "docker", "vllm", "mkdir", "cp", "mv", "rm", "ls", "cat", "echo", "open", "kill"]);

/** The arguments of `tracetrain` a command runs, or undefined for a command that is not tracetrain. */
function tracetrainArgs(words: readonly string[], packageScripts: Record<string, string> = scripts): string[] | undefined {
  const [first, ...rest] = words;
  if (first === "tracetrain") return rest;
  if (first === "npx") {
    const at = rest.findIndex((w) => !w.startsWith("-"));
    return rest[at] === "tracetrain" ? rest.slice(at + 1) : undefined;
  }
  // `npm run demo -- --steps 5`: a script of this package that is the CLI from source.
  if (first === "npm" && rest[0] === "run" && rest[1] !== undefined) {
    const cli = /^tsx src\/cli\/main\.ts\b(.*)$/.exec(packageScripts[rest[1]] ?? "");
    if (cli === undefined || cli === null) return undefined;
    const dash = rest.indexOf("--");
    return [...(splitCommands(cli[1]!)[0] ?? []), ...(dash < 0 ? [] : rest.slice(dash + 1))];
  }
  return undefined;
}

/** What is wrong with one documented command, or undefined. `cwd`: the package it runs in, undefined after a `cd`. */
function problemOf(command: ShellCommand, cwd: string | undefined): string | undefined {
  const args = tracetrainArgs(command.words, cwd === undefined ? {} : scriptsIn(cwd));
  if (args !== undefined) return tracetrainProblem(args, command.output);
  const [first = "", second, third] = command.words;
  if (first === "npm" && second === "run" && third !== undefined && cwd !== undefined && !(third in scriptsIn(cwd))) return `npm run ${third}: ${join(cwd, "package.json")} has no script "${third}"`;
  if (ALLOWED.has(first)) return undefined;
  if (/^\.{0,2}\/?[\w.-]+(\/[\w.-]+)+$/.test(first)) return existsSync(join(root, first)) ? undefined : `${first}: no such file in the repository`;
  return `${first}: neither a tracetrain command nor an allowed one (${[...ALLOWED].join(", ")})`;
}

function tracetrainProblem(args: string[], output: string[] | undefined): string | undefined {
  const shown = output?.find((line) => line.trim() !== "");
  let failure: string | undefined;
  try {
    checkCommandLine(args, { isPlaceholder });
  } catch (error) {
    failure = `tracetrain: ${describeFailure(error, helpTopicOf(args)).message}`;
  }
  if (failure === undefined) {
    return shown?.startsWith("tracetrain: invalid command line") ? `tracetrain ${args.join(" ")}: shown failing with "${shown}", but the CLI accepts it` : undefined;
  }
  // A transcript may show a mistake on purpose, with what the CLI answers to it.
  if (shown === failure) return undefined;
  return `tracetrain ${args.join(" ")}: ${failure}${shown === undefined ? "" : ` (the docs show: ${shown})`}`;
}

function isValid(args: string[]): boolean {
  try {
    checkCommandLine(args, { isPlaceholder });
    return true;
  } catch (error) {
    if (error instanceof ValidationError) return false;
    throw error;
  }
}

const documented = docFiles(root, { examples: true }).map((file) => {
  const blocks = shellBlocks(readFileSync(join(root, file), "utf8"));
  return { file, blocks: blocks.map((block) => commandsOf(file, block)) };
});
const invocations = documented.flatMap(({ blocks }) => blocks.flat()).flatMap((command) => {
  const args = tracetrainArgs(command.words);
  return args === undefined ? [] : [{ command, args }];
});

describe("shell blocks of the docs", () => {
  it("are found: README.md and docs/, with tracetrain commands among them", () => {
    expect(documented.map((d) => d.file)).toContain("README.md");
    expect(invocations.length).toBeGreaterThanOrEqual(5);
  });

  for (const { file, blocks } of documented) {
    it(`${file}: every command is a valid tracetrain command or an allowed one`, () => {
      const problems = blocks.flatMap((commands) => {
        let cwd: string | undefined = packageOf(file);
        return commands.flatMap((command) => {
          const problem = problemOf(command, cwd);
          if (command.words[0] === "cd") cwd = undefined;
          return problem === undefined ? [] : [`${command.where}: ${problem}`];
        });
      });
      expect(problems).toEqual([]);
    });
  }
});

describe("the checker", () => {
  const check = (line: string, output?: string[]) => problemOf({ where: "x", words: splitCommands(line)[0]!, output }, ".");

  it("rejects what the CLI would reject, with the CLI's own message", () => {
    expect(check("npx tracetrain runner --store http://h:4747 --agent a.js --concurency 4")).toMatch(/--concurency: unknown option; did you mean --concurrency\?/);
    expect(check("tracetrain store serve --port http")).toMatch(/--port: expected a port number/);
    expect(check("tracetrain export --store sqlite:x.db --format csv")).toMatch(/--format: expected chat, hf, tokens or sft-tokens, got csv/);
    expect(check("tracetrain export --store sqlite:x.db --format chat --credit sometimes")).toMatch(/--credit: unknown policy 'sometimes'/);
    expect(check("tracetrain export --format chat")).toMatch(/--store: required/);
    expect(check("tracetrain trian")).toMatch(/trian: unknown command/);
    expect(check("tracetrain dataset check")).toMatch(/FILE: required/);
    expect(check("rsync -a . host:")).toMatch(/rsync: neither a tracetrain command nor an allowed one/);
    expect(check("npm run no-such-script")).toMatch(/no script "no-such-script"/);
    expect(check("npm run demo -- --steps zero")).toMatch(/--steps: expected a whole number/);
  });

  it("reads `npm run` in an example's README against that example's package.json", () => {
    const npmRun = (script: string, cwd: string) => problemOf({ where: "x", words: ["npm", "run", script], output: undefined }, cwd);
    expect(npmRun("eval", "examples/sql-agent")).toBeUndefined();
    expect(npmRun("eval", ".")).toBe('npm run eval: package.json has no script "eval"');
    expect(npmRun("demo", "examples/sql-agent")).toBe('npm run demo: examples/sql-agent/package.json has no script "demo"');
    expect(packageOf("examples/sql-agent/README.md")).toBe("examples/sql-agent");
    expect(packageOf("docs/store.md")).toBe(".");
  });

  it("accepts valid commands, placeholders for values, and a transcript's documented failure", () => {
    expect(check('TRACETRAIN_TOKEN=… npx tracetrain gateway --store http://h:4747 --upstream http://g:8000/v1 --port "$PORT"')).toBeUndefined();
    expect(check("tracetrain export --store sqlite:x.db --format tokens --mode train,val --credit discounted:0.9 --top-k 1")).toBeUndefined();
    expect(check("tracetrain dataset check tasks.jsonl --debug")).toBeUndefined();
    expect(check("tracetrain gateway --help")).toBeUndefined();
    const mistake = "tracetrain runner --store http://h:4747 --agent a.js --concurency 4";
    const answer = "tracetrain: invalid command line: --concurency: unknown option; did you mean --concurrency? (see tracetrain runner --help)";
    expect(check(mistake, [answer])).toBeUndefined();
    expect(check(mistake, ["tracetrain: something else"])).toMatch(/the docs show: tracetrain: something else/);
    expect(check("tracetrain demo --steps 3", [answer])).toMatch(/the CLI accepts it/);
  });
});

describe("the real command", () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  it("prints the help of every command the docs use, naming every flag they use", async () => {
    const flags = new Map<string, Set<string>>();
    for (const { args } of invocations) {
      // A transcript's deliberate mistake (`--concurency`) is checked above, not looked for here.
      if (!isValid(args)) continue;
      const name = helpTopicOf(args);
      if (name === undefined || commandSpec(name) === undefined) continue;
      const used = flags.get(name) ?? new Set<string>();
      for (const arg of args) if (/^--[a-z]/.test(arg) && arg !== "--help" && arg !== "--debug") used.add(arg.split("=")[0]!);
      flags.set(name, used);
    }
    expect(flags.size).toBeGreaterThan(0);
    const overview = startTracetrain(["--help"], {}, children);
    expect(await overview.exited).toBe(0);
    // A few at a time: each is a Node process on a shared machine.
    const names = [...flags.keys()];
    for (let i = 0; i < names.length; i += 3) {
      const batch = names.slice(i, i + 3).map((name) => ({ name, run: startTracetrain([...name.split(" "), "--help"], {}, children) }));
      for (const { name, run } of batch) {
        expect(await run.exited, `tracetrain ${name} --help`).toBe(0);
        expect(overview.out.text).toContain(`tracetrain ${name} `);
        for (const flag of flags.get(name)!) expect(run.out.text, `tracetrain ${name} --help`).toMatch(new RegExp(`^    ${flag}\\b`, "m"));
      }
    }
  });
});
