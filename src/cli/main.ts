#!/usr/bin/env node
/**
 * The `tracetrain` command. Its commands and their options are defined in commands.ts (which
 * `--help` and docs/reference/cli.md are written from); the handlers are here.
 *
 * A failure is one line on stderr: exit 2 for what the user can fix (see errors.ts), 1 otherwise;
 * `--debug` anywhere (or TRACETRAIN_DEBUG=1) adds the stack trace.
 *
 * Tokens may also come from TRACETRAIN_TOKEN (better: they then stay out of `ps` and shell history).
 */
import { createWriteStream, existsSync } from "node:fs";
import { once } from "node:events";
import { creditPolicyFromName } from "../adapters/index.js";
import { type CreateStoreOptions, type Store, createStore } from "../store/index.js";
import { runWorker } from "../runner/index.js";
import { startGateway } from "../gateway/index.js";
import { type StoreServer, startStoreServer } from "../server/index.js";
import { RolloutModeSchema, type RolloutMode } from "../types/index.js";
import { DATASET_FORMATS, loadDataset, redactUrl } from "../util/index.js";
import { COMMAND_SPECS, type CommandName, commandOf, helpTopicOf } from "./commands.js";
import { CommandError, UsageError, describeFailure, stackOf } from "./errors.js";
import { EXPORT_FORMATS, describeExport, exportFromStore } from "./export.js";
import { parseArguments, parseOptions, unknownCommandError, withoutDebugFlag } from "./options.js";
import { needsTsx, rerunWithTsx } from "./typescript-loading.js";
import { USAGE, usageOf } from "./usage.js";
import { choiceOf, finiteNumber, parsePort, wholeNumber } from "./values.js";
import { packageVersion } from "./version.js";

/** Each command's handler, by the words that name it (commands.ts defines them and their options). */
const COMMANDS: Record<CommandName, (args: string[]) => Promise<number>> = {
  "store serve": serve,
  dashboard: dashboardCommand,
  runner,
  export: exportCommand,
  gateway: gatewayCommand,
  harness: async (args) => (await import("./harness.js")).harnessCommand(args),
  "backend serve": backendServe,
  demo: demoCommand,
  "dataset check": datasetCheck,
  init: async (args) => (await import("./init/index.js")).initCommand(args),
};


async function main(argv: string[]): Promise<number> {
  const [first, second] = argv;
  if (first === "--version" || first === "-v" || first === "version") {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (first === undefined) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  if (first === "help" || first === "--help" || first === "-h") {
    process.stdout.write(`${second === undefined ? USAGE : usageOf(argv.slice(1).join(" "))}\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${usageOf(helpTopicOf(argv) ?? first)}\n`);
    return 0;
  }
  const command = commandOf(argv);
  if (command !== undefined) return COMMANDS[command.name](command.args);
  throw unknownCommandError(argv);
}

async function backendServe(args: string[]): Promise<number> {
  const values = parseOptions("backend serve", args, COMMAND_SPECS["backend serve"].options);
  if (!values.reference) {
    throw new UsageError("--reference", "only the reference backend can be served from here; GPU trainers serve the protocol themselves (docs/rl-backend-protocol.md)");
  }
  const seed = wholeNumber("--seed", values.seed, 0);
  const { ReferenceBackend, serveTrainingBackend } = await import("../algorithms/index.js");
  const { ACTIONS } = await import("../demo/index.js");
  const actions = values.actions === undefined ? [...ACTIONS] : values.actions.split(",").map((a) => a.trim()).filter((a) => a !== "");
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const backend = await ReferenceBackend.start({ actions, seed, host: values.host });
  const server = await serveTrainingBackend(backend, { host: values.host, port: parsePort(values.port), insecure: values.insecure, ...(token ? { token } : {}) });
  process.stdout.write(`reference backend: protocol at ${server.url}${token ? " (token required)" : ""}, policy endpoint ${backend.baseUrl}\n`);
  await stopSignal();
  await server.close();
  await backend.close();
  return 0;
}

async function demoCommand(args: string[]): Promise<number> {
  const values = parseOptions("demo", args, COMMAND_SPECS.demo.options);
  const steps = wholeNumber("--steps", values.steps, 1);
  const seed = wholeNumber("--seed", values.seed, 0);
  const { runDemo } = await import("../demo/index.js");
  await runDemo({ steps, seed, async: values.async, ...(values.dir === undefined ? {} : { dir: values.dir }) });
  return 0;
}

async function datasetCheck(args: string[]): Promise<number> {
  const { values, positionals } = parseArguments("dataset check", args, COMMAND_SPECS["dataset check"].options, COMMAND_SPECS["dataset check"].positionals);
  const [file] = positionals as [string];
  const format = values.format === undefined ? undefined : choiceOf("--format", values.format, DATASET_FORMATS);
  const rows = await loadDataset(file, format === undefined ? {} : { format });
  const first = rows[0];
  const fields = typeof first === "object" && first !== null && !Array.isArray(first) ? `; fields of the first row: ${Object.keys(first).join(", ")}` : "";
  process.stdout.write(`${file}: ${rows.length} row${rows.length === 1 ? "" : "s"}${fields}\n`);
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const values = parseOptions("store serve", args, COMMAND_SPECS["store serve"].options);
  const port = parsePort(values.port);
  if (values.store.startsWith("http")) throw new UsageError("--store", "serve a database (sqlite:…, postgres://…, memory), not another server");
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const store = openStore(values.store);
  const server = await startStoreServer({ store, host: values.host, port, insecure: values.insecure, closeStore: true, ...(token ? { token } : {}) }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  process.stdout.write(`tracetrain store serving ${redactUrl(values.store)} at ${server.url}${token ? " (token required)" : ""}\n`);
  process.stdout.write(`dashboard: ${server.url}/${token ? " (sign in with the token, or open /#token=<token>)" : ""}\n`);
  await stopSignal();
  process.stdout.write("stopping: finishing requests in flight…\n");
  await server.close();
  return 0;
}

/**
 * `tracetrain dashboard`: a read-only server for looking at a store — a SQLite file, a database,
 * or another store server (read through HttpStore, so its events stream through too) — and the
 * address to open, token included.
 */
async function dashboardCommand(args: string[]): Promise<number> {
  const values = parseOptions("dashboard", args, COMMAND_SPECS.dashboard.options);
  if (values.store === undefined) throw new UsageError("--store", "give the store to look at: a SQLite file, sqlite:PATH, postgres://… or a store server's http(s):// URL");
  const port = parsePort(values.port);
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const spec = storeSpecOf(values.store);
  const store = openStore(spec, token ? { token } : {});
  let server: StoreServer;
  try {
    await checkReachable(store, spec);
    server = await startStoreServer({ store, host: values.host, port, readOnly: true, closeStore: true, ...(token ? { token } : {}) });
  } catch (error) {
    await store.close();
    throw error;
  }
  process.stdout.write(`tracetrain dashboard (read-only) for ${redactUrl(spec)}\n`);
  process.stdout.write(`open ${server.url}/${token ? `#token=${encodeURIComponent(token)}` : ""}\n`);
  await stopSignal();
  await server.close();
  return 0;
}

/** A bare path names a SQLite file, which must exist: a dashboard on a new empty database would only mislead. */
function storeSpecOf(text: string): string {
  if (/^(https?|postgres(ql)?):\/\//.test(text) || text === "memory") return text;
  const path = text.startsWith("sqlite:") ? text.slice("sqlite:".length) : text;
  if (!existsSync(path)) throw new CommandError(`no SQLite store at ${path}`);
  return `sqlite:${path}`;
}

async function gatewayCommand(args: string[]): Promise<number> {
  const values = parseOptions("gateway", args, COMMAND_SPECS.gateway.options);
  if (!values.store) throw new UsageError("--store", "required");
  if (!values.upstream?.length) throw new UsageError("--upstream", "required");
  const port = parsePort(values.port);
  const capture = choiceOf("--capture", values.capture, ["train", "always", "never"]);
  const token = values.token ?? process.env.TRACETRAIN_GATEWAY_TOKEN;
  const storeToken = values["store-token"] ?? process.env.TRACETRAIN_TOKEN;
  const upstreamKey = values["upstream-key"] ?? process.env.TRACETRAIN_UPSTREAM_KEY;
  const store = openStore(values.store, storeToken ? { token: storeToken } : {});
  try {
    await checkReachable(store, values.store);
    const gateway = await startGateway({
      store,
      upstreams: values.upstream.map((url) => ({ url, ...(upstreamKey ? { apiKey: upstreamKey } : {}) })),
      host: values.host,
      port,
      insecure: values.insecure,
      recordUnscoped: values["record-unscoped"],
      captureTokens: capture,
      probe: !values["skip-probe"],
      ...(token ? { token } : {}),
    });
    process.stdout.write(`tracetrain gateway at ${gateway.url}${token ? " (token required)" : ""}, recording into ${redactUrl(values.store)}\n`);
    for (const upstream of gateway.upstreams()) {
      process.stdout.write(`  upstream ${upstream.name}: ${redactUrl(upstream.url)} (token ids: ${upstream.capabilities.tokenIds ? "yes" : "no"}, logprobs: ${upstream.capabilities.logprobs ? "yes" : "no"})\n`);
    }
    process.stdout.write(`  agents use OPENAI_BASE_URL=${gateway.url}/rollout/{rolloutId}/attempt/{attemptId}/v1\n`);
    await stopSignal();
    process.stdout.write("stopping: finishing calls in flight…\n");
    await gateway.close();
  } finally {
    await store.close();
  }
  return 0;
}

async function runner(args: string[]): Promise<number> {
  const values = parseOptions("runner", args, COMMAND_SPECS.runner.options);
  if (!values.store) throw new UsageError("--store", "required");
  if (!values.agent) throw new UsageError("--agent", "required");
  const concurrency = wholeNumber("--concurrency", values.concurrency, 1);
  // A file that is not there is reported here, not as a module-resolution error from deep inside.
  if (!/^[a-z][a-z0-9+.-]+:/i.test(values.agent) && !existsSync(values.agent)) throw new UsageError("--agent", `no such file: ${values.agent}`);
  if (needsTsx(values.agent)) return rerunWithTsx();
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  if (!/^https?:\/\//.test(values.store)) throw new UsageError("--store", `expected the http(s):// URL of a store server (tracetrain store serve), got ${redactUrl(values.store)}`);
  // The runner itself retries a lost store for ever (it waits out restarts): a wrong URL or a
  // server that is not running is found out once, up front.
  const probe = openStore(values.store, token ? { token } : {});
  try {
    await checkReachable(probe, values.store);
  } finally {
    await probe.close();
  }
  await runWorker({
    storeUrl: values.store,
    agentModule: values.agent,
    concurrency,
    ...(values.name ? { agentName: values.name } : {}),
    ...(token ? { token } : {}),
    onReady: ({ workerId, agent }) => process.stdout.write(`runner ${workerId} running agent '${agent}' against ${values.store}\n`),
  });
  return 0;
}

async function exportCommand(args: string[]): Promise<number> {
  const values = parseOptions("export", args, COMMAND_SPECS.export.options);
  if (!values.store) throw new UsageError("--store", "required");
  const format = choiceOf("--format", values.format, EXPORT_FORMATS);
  const modes = (values.mode ?? []).flatMap((m) => m.split(",")).map((m): RolloutMode => choiceOf("--mode", m.trim(), RolloutModeSchema.options));
  const minReward = values["min-reward"] === undefined ? undefined : finiteNumber("--min-reward", values["min-reward"]);
  const topK = values["top-k"] === undefined ? undefined : wholeNumber("--top-k", values["top-k"], 1);
  const maxLength = values["max-length"] === undefined ? undefined : wholeNumber("--max-length", values["max-length"], 1);
  const per = choiceOf("--per", values.per, ["call", "conversation"]);
  const credit = creditPolicyFromName(values.credit);
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;

  // A reader: a store that is not there is an error, never a new empty one that exports nothing.
  const store = openStore(values.store, { mustExist: true, ...(token ? { token } : {}) });
  let file: ReturnType<typeof createWriteStream> | undefined;
  try {
    await checkReachable(store, values.store);
    // Created once the store is known to be readable, so a failed export leaves no empty file behind.
    file = values.out === undefined ? undefined : createWriteStream(values.out);
    // Fail on an unwritable --out before reading anything (an 'error' event would otherwise crash us later).
    if (file) await once(file, "open");
    const summary = await exportFromStore(
      store,
      { format, modes, agents: values.agent, minReward, topK, credit, per, maxLength },
      file ?? process.stdout,
    );
    process.stderr.write(`${describeExport(summary, format)}\n`);
  } finally {
    if (file && !file.destroyed) {
      file.end();
      await once(file, "finish");
    } else if (!file) {
      // process.exit follows: let what was written to stdout drain first.
      await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
    }
    await store.close();
  }
  return 0;
}

/**
 * Opens the store `spec` names. A SQLite file that cannot be opened is reported with its path
 * (SQLite's own message names none).
 */
function openStore(spec: string, options: CreateStoreOptions = {}): Store {
  try {
    return createStore(spec, options);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (spec.startsWith("sqlite:") && typeof code === "string" && (code.startsWith("SQLITE_") || code === "ERR_SQLITE_ERROR")) {
      throw new CommandError(`cannot open the SQLite store ${spec.slice("sqlite:".length)}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    throw error;
  }
}

/** One cheap call, so an unreachable store server (or a wrong token) is reported before any work starts. */
async function checkReachable(store: Store, spec: string): Promise<void> {
  if (/^https?:\/\//.test(spec)) await store.stats();
}

/** Resolves on SIGINT or SIGTERM: how a serving command is asked to stop. */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

const { argv, debug } = withoutDebugFlag(process.argv.slice(2));
main(argv).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const failure = describeFailure(error, helpTopicOf(argv));
    process.stderr.write(`tracetrain: ${failure.message}\n${debug ? `${stackOf(error)}\n` : ""}`);
    process.exit(failure.exitCode);
  },
);
