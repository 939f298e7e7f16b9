#!/usr/bin/env node
/**
 * The `tracetrain` command.
 *
 *   tracetrain store serve [--store URL] [--host H] [--port P] [--token T] [--insecure]
 *   tracetrain runner --store URL --agent PATH [--name AGENT] [--concurrency N] [--token T]
 *   tracetrain export --store URL --format chat|tokens [--mode M] [--agent NAME] [--min-reward X] [--top-k N] [--out FILE] …
 *   tracetrain gateway --store URL --upstream URL [--upstream URL …] [--port P] [--token T] …
 *   tracetrain harness --agent PATH [--name AGENT] [--task-env [FIELD=]VAR[:json] …] [--task-json-env VAR] [--model M] [--resources FILE] [--max-pause S]
 *
 *   tracetrain backend serve --reference [--actions A,B,…] [--host H] [--port P] [--token T] [--seed N]
 *   tracetrain demo [--steps N] [--dir DIR] [--seed N]
 *   tracetrain --version | --help | COMMAND --help
 *
 * Tokens may also come from TRACETRAIN_TOKEN (better: they then stay out of `ps` and shell history).
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { parseArgs } from "node:util";
import { creditPolicyFromName } from "../adapters/index.js";
import { createStore } from "../store/index.js";
import { runWorker } from "../runner/index.js";
import { startGateway } from "../gateway/index.js";
import { startStoreServer } from "../server/index.js";
import { RolloutModeSchema, type RolloutMode, TracetrainError, ValidationError } from "../types/index.js";
import { describeExport, exportFromStore } from "./export.js";
import { needsTsx, rerunWithTsx } from "./typescript-loading.js";
import { packageVersion } from "./version.js";

const USAGE = `usage:
  tracetrain store serve [--store URL] [--host HOST] [--port PORT] [--token TOKEN] [--insecure]
      Serve a store over HTTP. --store: "sqlite:PATH" (default sqlite:./.tracetrain/tracetrain.db),
      "postgres://…" or "memory". --host defaults to 127.0.0.1; binding any other address needs a
      token (--token or TRACETRAIN_TOKEN) unless --insecure.
  tracetrain runner --store URL --agent PATH [--name AGENT] [--concurrency N] [--token TOKEN]
      Join a store server and run rollouts with the agent exported by PATH (a .js module, or a .ts
      module when tsx is installed). --name picks the agent if the module exports several.
  tracetrain export --store URL --format chat|tokens [--mode train|val|test] [--agent NAME]
                    [--min-reward X] [--top-k N] [--credit POLICY] [--per call|conversation]
                    [--max-length N] [--out FILE] [--token TOKEN]
      Write the succeeded rollouts' trajectories as JSONL (to FILE, or stdout): "chat" is OpenAI
      fine-tuning records for SFT, "tokens" is token samples for RL (prompt_ids, response_ids,
      response_mask, logprobs, reward, rollout_id, group_id, policy_version; only calls with
      exact token ids). --mode and --agent may repeat. --top-k keeps the k best rollouts of each
      task. --credit: final (default), lastCall, perCall or discounted:γ. A summary of what was
      exported and left out goes to stderr.
  tracetrain gateway --store URL --upstream URL [--upstream URL …] [--upstream-key KEY]
                     [--host HOST] [--port PORT] [--token TOKEN] [--insecure] [--record-unscoped]
                     [--capture train|always|never] [--skip-probe] [--store-token TOKEN]
      Run the LLM gateway: an OpenAI-compatible proxy (default port 4748) that records every call
      made under /rollout/{rolloutId}/attempt/{attemptId}/v1 into the store (a store server's
      http(s):// URL, or sqlite:…, postgres://…), with exact token ids from upstreams that give
      them (vLLM). --upstream repeats (calls of one rollout stick to one upstream); its key comes
      from --upstream-key or TRACETRAIN_UPSTREAM_KEY and is never recorded. Agents authenticate
      with --token (or TRACETRAIN_GATEWAY_TOKEN) or a per-rollout key; the store server's token is
      --store-token or TRACETRAIN_TOKEN.
  tracetrain harness --agent PATH [--name AGENT] [--task-env [FIELD=]VAR[:json] …] [--task-json-env VAR]
                     [--model NAME] [--resources FILE] [--max-pause SECONDS]
      Run one rollout as an Agent Lightning v1.0 harness process (their controller starts one per
      rollout): the agent gets the LLM "main" at AGL_OPENAI_BASE_URL with key AGL_KEY (none when
      empty; model --model, default "auto"; mode val when the URL says /mode/val/, else train),
      through a local relay that holds calls while the proxy answers 429/503 with Retry-After (up
      to --max-pause, default 1800 s), plus the resources of FILE (a JSON resources map); its
      reward is POSTed as a reward event to AGL_EVENT_URL. The task is the JSON in variable VAR, or
      an object of --task-env fields: FIELD (default VAR) is the text of VAR, JSON-decoded with
      :json. Exit 0 once the reward is posted; 1 when the agent fails, gives no reward or the post
      fails; 2 on a missing variable or bad input. python/tracetrain_harness.py starts it from
      Agent Lightning's local controller.
  tracetrain backend serve --reference [--actions A,B,…] [--host HOST] [--port PORT] [--token TOKEN]
                           [--seed N]
      Serve the CPU reference policy over the RL backend protocol (docs/rl-backend-protocol.md; for
      HttpTrainingBackend), with its OpenAI-compatible endpoint on a port of its own. --actions: the
      words it can answer (each one o200k token; default: the demo's). Default port 4749.
  tracetrain demo [--steps N] [--dir DIR] [--seed N]
      Train a small policy with RL on this machine (no network, no API key): the CPU reference
      backend, the gateway, an openai-SDK agent doing a two-call tool task, a SQLite store. Prints
      a reward table; writes reward-curve.svg and result.json to DIR (default .tracetrain/demo).
  tracetrain --version
      Print tracetrain's version. Any command followed by --help prints its own usage.`;

async function main(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (command === "--version" || command === "-v" || command === "version") {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (command !== undefined && command !== "help" && (argv.includes("--help") || argv.includes("-h"))) {
    process.stdout.write(`${usageOf(command)}\n`);
    return 0;
  }
  if (command === "store" && sub === "serve") return serve(rest);
  if (command === "runner") return runner([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === "export") return exportCommand([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === "gateway") return gatewayCommand([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === "harness") return (await import("./harness.js")).harnessCommand([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === "backend" && sub === "serve") return backendServe(rest);
  if (command === "demo") return demoCommand([sub ?? "", ...rest].filter((a) => a !== ""));
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 1 : 0;
  }
  throw new ValidationError("command line", [{ path: command, message: `unknown command\n${USAGE}` }]);
}

/** The usage of one command (every section of USAGE that starts with it), or all of it for an unknown one. */
function usageOf(command: string): string {
  const sections = USAGE.split(/\n(?= {2}tracetrain )/).slice(1);
  const mine = sections.filter((section) => section.startsWith(`  tracetrain ${command} `) || section.startsWith(`  tracetrain ${command}\n`));
  return mine.length === 0 ? USAGE : `usage:\n${mine.join("\n")}`;
}

async function backendServe(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      reference: { type: "boolean", default: false },
      actions: { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "4749" },
      token: { type: "string" },
      insecure: { type: "boolean", default: false },
      seed: { type: "string", default: "0" },
    },
  });
  if (!values.reference) {
    throw new ValidationError("command line", [{ path: "--reference", message: "only the reference backend can be served from here; GPU trainers serve the protocol themselves (docs/rl-backend-protocol.md)" }]);
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError("command line", [{ path: "--seed", message: `expected a whole number ≥ 0, got ${values.seed}` }]);
  const { ReferenceBackend, serveTrainingBackend } = await import("../algorithms/index.js");
  const { ACTIONS } = await import("../demo/index.js");
  const actions = values.actions === undefined ? [...ACTIONS] : values.actions.split(",").map((a) => a.trim()).filter((a) => a !== "");
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const backend = await ReferenceBackend.start({ actions, seed, host: values.host });
  const server = await serveTrainingBackend(backend, { host: values.host, port: parsePort(values.port), insecure: values.insecure, ...(token ? { token } : {}) });
  process.stdout.write(`reference backend: protocol at ${server.url}${token ? " (token required)" : ""}, policy endpoint ${backend.baseUrl}\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await server.close();
  await backend.close();
  return 0;
}

async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, strict: true, options: { steps: { type: "string", default: "30" }, dir: { type: "string" }, seed: { type: "string", default: "0" } } });
  const steps = Number(values.steps);
  const seed = Number(values.seed);
  if (!Number.isInteger(steps) || steps < 1) throw new ValidationError("command line", [{ path: "--steps", message: `expected a whole number ≥ 1, got ${values.steps}` }]);
  if (!Number.isInteger(seed) || seed < 0) throw new ValidationError("command line", [{ path: "--seed", message: `expected a whole number ≥ 0, got ${values.seed}` }]);
  const { runDemo } = await import("../demo/index.js");
  await runDemo({ steps, seed, ...(values.dir === undefined ? {} : { dir: values.dir }) });
  return 0;
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string", default: "sqlite:./.tracetrain/tracetrain.db" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "4747" },
      token: { type: "string" },
      insecure: { type: "boolean", default: false },
    },
  });
  const port = parsePort(values.port);
  if (values.store.startsWith("http")) {
    throw new ValidationError("command line", [{ path: "--store", message: "serve a database (sqlite:…, postgres://…, memory), not another server" }]);
  }
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
  const store = createStore(values.store);
  const server = await startStoreServer({ store, host: values.host, port, insecure: values.insecure, closeStore: true, ...(token ? { token } : {}) });
  process.stdout.write(`tracetrain store serving ${redact(values.store)} at ${server.url}${token ? " (token required)" : ""}\n`);
  process.stdout.write("dashboard: not available in this version\n");
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  process.stdout.write("stopping: finishing requests in flight…\n");
  await server.close();
  return 0;
}

async function gatewayCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string" },
      upstream: { type: "string", multiple: true },
      "upstream-key": { type: "string" },
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "4748" },
      token: { type: "string" },
      "store-token": { type: "string" },
      insecure: { type: "boolean", default: false },
      "record-unscoped": { type: "boolean", default: false },
      capture: { type: "string", default: "train" },
      "skip-probe": { type: "boolean", default: false },
    },
  });
  if (!values.store || !values.upstream?.length) {
    throw new ValidationError("command line", [{ path: values.store ? "--upstream" : "--store", message: `required\n${USAGE}` }]);
  }
  const port = parsePort(values.port);
  const capture = values.capture;
  if (capture !== "train" && capture !== "always" && capture !== "never") {
    throw new ValidationError("command line", [{ path: "--capture", message: `expected train, always or never, got ${capture}` }]);
  }
  const token = values.token ?? process.env.TRACETRAIN_GATEWAY_TOKEN;
  const storeToken = values["store-token"] ?? process.env.TRACETRAIN_TOKEN;
  const upstreamKey = values["upstream-key"] ?? process.env.TRACETRAIN_UPSTREAM_KEY;
  const store = createStore(values.store, storeToken ? { token: storeToken } : {});
  try {
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
    process.stdout.write(`tracetrain gateway at ${gateway.url}${token ? " (token required)" : ""}, recording into ${redact(values.store)}\n`);
    for (const upstream of gateway.upstreams()) {
      process.stdout.write(`  upstream ${upstream.name}: ${redact(upstream.url)} (token ids: ${upstream.capabilities.tokenIds ? "yes" : "no"}, logprobs: ${upstream.capabilities.logprobs ? "yes" : "no"})\n`);
    }
    process.stdout.write(`  agents use OPENAI_BASE_URL=${gateway.url}/rollout/{rolloutId}/attempt/{attemptId}/v1\n`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    process.stdout.write("stopping: finishing calls in flight…\n");
    await gateway.close();
  } finally {
    await store.close();
  }
  return 0;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ValidationError("command line", [{ path: "--port", message: `expected a port number, got ${text}` }]);
  return port;
}

async function runner(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string" },
      agent: { type: "string" },
      name: { type: "string" },
      concurrency: { type: "string", default: "8" },
      token: { type: "string" },
    },
  });
  if (!values.store || !values.agent) {
    throw new ValidationError("command line", [{ path: values.store ? "--agent" : "--store", message: `required\n${USAGE}` }]);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new ValidationError("command line", [{ path: "--concurrency", message: `expected a whole number ≥ 1, got ${values.concurrency}` }]);
  }
  if (needsTsx(values.agent)) return rerunWithTsx();
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;
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
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      store: { type: "string" },
      format: { type: "string" },
      mode: { type: "string", multiple: true },
      agent: { type: "string", multiple: true },
      "min-reward": { type: "string" },
      "top-k": { type: "string" },
      credit: { type: "string", default: "final" },
      per: { type: "string", default: "conversation" },
      "max-length": { type: "string" },
      out: { type: "string" },
      token: { type: "string" },
    },
  });
  const invalid = (path: string, message: string) => new ValidationError("command line", [{ path, message }]);
  if (!values.store) throw invalid("--store", `required\n${USAGE}`);
  const format = values.format;
  if (format !== "chat" && format !== "tokens") throw invalid("--format", `expected chat or tokens, got ${format ?? "nothing"}`);
  const modes = (values.mode ?? []).flatMap((m) => m.split(",")).map((m): RolloutMode => {
    const parsed = RolloutModeSchema.safeParse(m.trim());
    if (!parsed.success) throw invalid("--mode", `expected train, val or test, got ${m}`);
    return parsed.data;
  });
  const number = (flag: string, text: string | undefined, whole: boolean): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n) || (whole && (!Number.isInteger(n) || n < 1))) throw invalid(flag, `expected ${whole ? "a whole number ≥ 1" : "a number"}, got ${text}`);
    return n;
  };
  const minReward = number("--min-reward", values["min-reward"], false);
  const topK = number("--top-k", values["top-k"], true);
  const maxLength = number("--max-length", values["max-length"], true);
  if (values.per !== "call" && values.per !== "conversation") throw invalid("--per", `expected call or conversation, got ${values.per}`);
  const credit = creditPolicyFromName(values.credit);
  const token = values.token ?? process.env.TRACETRAIN_TOKEN;

  const file = values.out === undefined ? undefined : createWriteStream(values.out);
  // Fail on an unwritable --out before reading anything (an 'error' event would otherwise crash us later).
  if (file) await once(file, "open");
  const store = createStore(values.store, token ? { token } : {});
  try {
    const summary = await exportFromStore(
      store,
      { format, modes, agents: values.agent, minReward, topK, credit, per: values.per, maxLength },
      file ?? process.stdout,
    );
    process.stderr.write(`${describeExport(summary, format)}\n`);
  } finally {
    if (file) {
      file.end();
      await once(file, "finish");
    } else {
      // process.exit follows: let what was written to stdout drain first.
      await new Promise<void>((resolve) => process.stdout.write("", () => resolve()));
    }
    await store.close();
  }
  return 0;
}

function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:)[^@/?#]*@/i, "$1***@");
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof TracetrainError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`tracetrain: ${message}\n`);
    process.exit(error instanceof ValidationError ? 2 : 1);
  },
);
