/**
 * Every `tracetrain` command and its options, written once. The parser reads its option table
 * from here, `--help` prints it, and docs/reference/cli.md is generated from it (scripts/gen-reference.ts),
 * so the three cannot disagree. A command is added here and given its handler in main.ts (the
 * handler table is typed by these names, so neither can be forgotten).
 */
import { RolloutModeSchema } from "../types/index.js";
import { DATASET_FORMATS } from "../util/index.js";

/** How an option's text is checked and read (values.ts does it), beyond being present. */
export type ValueCheck =
  | { kind: "port" }
  | { kind: "whole"; min: number }
  | { kind: "number" }
  | { kind: "seconds" }
  | { kind: "choice"; choices: readonly string[]; commaList?: boolean }
  | { kind: "credit" };

interface OptionBase {
  /** One sentence or two for --help and the reference. */
  description: string;
  /** Whether the command refuses to run without it. */
  required?: boolean;
}

export interface StringOptionSpec extends OptionBase {
  type: "string";
  /** What the usage calls its value: `URL`, `N`, `chat|tokens`. */
  value: string;
  multiple?: boolean;
  default?: string;
  check?: ValueCheck;
  /** An environment variable read when the option is not given. */
  env?: string;
}

export interface BooleanOptionSpec extends OptionBase {
  type: "boolean";
  default?: boolean;
}

export type OptionSpec = StringOptionSpec | BooleanOptionSpec;

export interface CommandSpec {
  /** What the command does, for the overview of `tracetrain --help` and the reference. */
  summary: string;
  /** Positional arguments, in order (`FILE`). */
  positionals?: readonly string[];
  options: Readonly<Record<string, OptionSpec>>;
}

const TOKEN_FROM_ENV = "TRACETRAIN_TOKEN";
/** What `tracetrain init --framework` takes: the templates' names (init/templates; a test holds the two equal), listed here so that --help loads no template. */
const INIT_FRAMEWORKS = ["openai", "ai-sdk", "langchain", "openai-agents", "plain"] as const;
const host = { type: "string", value: "HOST", default: "127.0.0.1", description: "The interface to listen on; anything but loopback needs a token (or --insecure)." } as const;
const port = (number: string) => ({ type: "string", value: "PORT", default: number, check: { kind: "port" }, description: "The port to listen on; 0 picks a free one." }) as const;
const insecure = { type: "boolean", default: false, description: "Listen beyond loopback without a token, on a trusted private network only." } as const;
const storeToken = { type: "string", value: "TOKEN", env: TOKEN_FROM_ENV, description: "The store server's token." } as const;
const agentName = { type: "string", value: "AGENT", description: "The agent to run, when the module exports several." } as const;
const seed = { type: "string", value: "N", default: "0", check: { kind: "whole", min: 0 }, description: "Seeds every random choice: the same seed gives the same run." } as const;

export const COMMAND_SPECS = {
  "store serve": {
    summary:
      'Serve a store over HTTP. --store: "sqlite:PATH" (default sqlite:./.tracetrain/tracetrain.db), "postgres://…" or "memory". --host defaults to 127.0.0.1; binding another address needs a token (--token or TRACETRAIN_TOKEN) unless --insecure.',
    options: {
      store: { type: "string", value: "URL", default: "sqlite:./.tracetrain/tracetrain.db", description: 'The database to serve: "sqlite:PATH", "postgres://…" or "memory" (not another server).' },
      host,
      port: port("4747"),
      token: { type: "string", value: "TOKEN", env: TOKEN_FROM_ENV, description: "Required from clients as `Authorization: Bearer …` on every route but /healthz." },
      insecure,
    },
  },
  dashboard: {
    summary:
      "Serve the dashboard, read-only, for a store: a SQLite file (PATH or sqlite:PATH, which must exist), postgres://…, or a store server's http(s):// URL (read through its API, token --token or TRACETRAIN_TOKEN, which then guards this server too). Prints the address to open. Default port 4750. tracetrain store serve serves the dashboard at / as well.",
    options: {
      store: { type: "string", value: "PATH|URL", required: true, description: "The store to look at: a SQLite file (PATH or sqlite:PATH, which must exist), postgres://… or a store server's http(s):// URL." },
      host,
      port: port("4750"),
      token: { type: "string", value: "TOKEN", env: TOKEN_FROM_ENV, description: "The store server's token; it then guards this server too." },
    },
  },
  runner: {
    summary:
      "Join a store server and run rollouts with the agent exported by PATH (a .js module, or a .ts module when tsx is installed). --name picks the agent if the module exports several.",
    options: {
      store: { type: "string", value: "URL", required: true, description: "The http(s):// URL of a store server (tracetrain store serve)." },
      agent: { type: "string", value: "PATH", required: true, description: "The module that exports the agent: a .js file, or a .ts file when tsx is installed." },
      name: agentName,
      concurrency: { type: "string", value: "N", default: "8", check: { kind: "whole", min: 1 }, description: "Rollouts run at once." },
      token: storeToken,
    },
  },
  export: {
    summary:
      'Write the succeeded rollouts\' trajectories as JSONL (to FILE, or stdout): "chat" is OpenAI fine-tuning records for SFT (with tools), "hf" Hugging Face messages for TRL\'s SFTTrainer (tool-call arguments as objects), "tokens" token samples for RL (prompt_ids, response_ids, response_mask, logprobs, reward, rollout_id, group_id, policy_version) and "sft-tokens" exact-token SFT samples (input_ids, labels with -100 where no loss is taken); the token formats need calls with exact token ids. --mode and --agent may repeat. --top-k keeps the k best rollouts of each task. --credit: final (default), lastCall, perCall or discounted:γ. A summary of what was exported and left out goes to stderr.',
    options: {
      store: { type: "string", value: "URL", required: true, description: "The store to read: sqlite:PATH (which must exist), postgres://… or a store server's http(s):// URL." },
      format: {
        type: "string",
        value: "chat|hf|tokens|sft-tokens",
        required: true,
        check: { kind: "choice", choices: ["chat", "hf", "tokens", "sft-tokens"] },
        description: '"chat": OpenAI fine-tuning records; "hf": Hugging Face messages (TRL SFTTrainer); "tokens": token samples with exact ids (RL); "sft-tokens": input_ids and labels (SFT).',
      },
      mode: { type: "string", value: "train|val|test", multiple: true, check: { kind: "choice", choices: RolloutModeSchema.options, commaList: true }, description: "Only rollouts of these modes; repeats, or a comma list. Default: every mode." },
      agent: { type: "string", value: "NAME", multiple: true, description: "Only calls of these agents; repeats. Default: every agent." },
      "min-reward": { type: "string", value: "X", check: { kind: "number" }, description: "Only rollouts whose final reward is at least X." },
      "top-k": { type: "string", value: "N", check: { kind: "whole", min: 1 }, description: "Only the k best rollouts of each task." },
      credit: { type: "string", value: "POLICY", default: "final", check: { kind: "credit" }, description: "How rewards become one per call: final, lastCall, perCall or discounted:γ." },
      per: { type: "string", value: "call|conversation", default: "conversation", check: { kind: "choice", choices: ["call", "conversation"] }, description: "Chat records per LLM call or per conversation." },
      "max-length": { type: "string", value: "N", check: { kind: "whole", min: 1 }, description: "Token samples never merge past N tokens." },
      out: { type: "string", value: "FILE", description: "Where to write the JSONL. Default: stdout." },
      token: storeToken,
    },
  },
  gateway: {
    summary:
      "Run the LLM gateway: an OpenAI-compatible proxy (default port 4748) that records every call made under /rollout/{rolloutId}/attempt/{attemptId}/v1 into the store (a store server's http(s):// URL, or sqlite:…, postgres://…), with exact token ids from upstreams that give them (vLLM). --upstream repeats (calls of one rollout stick to one upstream); its key comes from --upstream-key or TRACETRAIN_UPSTREAM_KEY and is never recorded. Agents authenticate with --token (or TRACETRAIN_GATEWAY_TOKEN) or a per-rollout key; the store server's token is --store-token or TRACETRAIN_TOKEN.",
    options: {
      store: { type: "string", value: "URL", required: true, description: "Where calls are recorded: a store server's http(s):// URL, sqlite:PATH or postgres://…." },
      upstream: { type: "string", value: "URL", required: true, multiple: true, description: "An OpenAI-compatible server calls go to (its /v1 URL); repeats, and calls of one rollout stick to one upstream." },
      "upstream-key": { type: "string", value: "KEY", env: "TRACETRAIN_UPSTREAM_KEY", description: "The upstreams' API key; never recorded." },
      host,
      port: port("4748"),
      token: { type: "string", value: "TOKEN", env: "TRACETRAIN_GATEWAY_TOKEN", description: "Required from agents as their API key (per-rollout keys work too)." },
      insecure,
      "record-unscoped": { type: "boolean", default: false, description: "Record calls made without a rollout prefix, each as an online rollout of its own." },
      capture: { type: "string", value: "train|always|never", default: "train", check: { kind: "choice", choices: ["train", "always", "never"] }, description: "When to ask upstreams for exact token ids and logprobs: for calls of train rollouts, always or never." },
      "skip-probe": { type: "boolean", default: false, description: "Do not ask each upstream at start what it supports." },
      "store-token": storeToken,
    },
  },
  harness: {
    summary:
      'Run one rollout as an Agent Lightning v1.0 harness process (their controller starts one per rollout): the agent gets the LLM "main" at AGL_OPENAI_BASE_URL with key AGL_KEY (none when empty; model --model, default "auto"; mode val when the URL says /mode/val/, else train), through a local relay that holds calls while the proxy answers 429/503 with Retry-After (up to --max-pause, default 1800 s), plus the resources of FILE (a JSON resources map); its reward is POSTed as a reward event to AGL_EVENT_URL. The task is the JSON in variable VAR, or an object of --task-env fields: FIELD (default VAR) is the text of VAR, JSON-decoded with :json. Exit 0 once the reward is posted; 1 when the agent fails, gives no reward or the post fails; 2 on a missing variable or bad input. python/tracetrain_harness.py starts it from Agent Lightning\'s local controller.',
    options: {
      agent: { type: "string", value: "PATH", required: true, description: "The module that exports the agent (.js, or .ts when tsx is installed)." },
      name: agentName,
      "task-env": { type: "string", value: "[FIELD=]VAR[:json]", multiple: true, description: "A task field read from environment variable VAR (FIELD defaults to VAR; :json decodes it); repeats." },
      "task-json-env": { type: "string", value: "VAR", description: "The environment variable that holds the whole task as JSON (instead of --task-env)." },
      model: { type: "string", value: "NAME", default: "auto", description: 'The model name the agent\'s LLM "main" gets.' },
      resources: { type: "string", value: "FILE", description: "A JSON resources map (prompt templates, …) given to the agent besides the LLM." },
      "max-pause": { type: "string", value: "SECONDS", default: "1800", check: { kind: "seconds" }, description: "How long calls are held while the proxy answers 429/503 with Retry-After." },
    },
  },
  "backend serve": {
    summary:
      "Serve the CPU reference policy over the RL backend protocol (docs/rl-backend-protocol.md; for HttpTrainingBackend), with its OpenAI-compatible endpoint on a port of its own. --actions: the words it can answer (each one o200k token; default: the demo's). Default port 4749.",
    options: {
      reference: { type: "boolean", default: false, required: true, description: "Serve the CPU reference backend (the only one served from here; GPU trainers serve the protocol themselves)." },
      actions: { type: "string", value: "A,B,…", description: "The words the policy can answer, each one o200k token. Default: the demo's." },
      host,
      port: port("4749"),
      token: { type: "string", value: "TOKEN", env: TOKEN_FROM_ENV, description: "Required from clients as `Authorization: Bearer …`." },
      insecure,
      seed,
    },
  },
  demo: {
    summary:
      "Train a small policy with RL on this machine (no network, no API key): the CPU reference backend, the gateway, an openai-SDK agent doing a two-call tool task, a SQLite store. Prints a reward table; writes reward-curve.svg and result.json to DIR (default .tracetrain/demo). --async keeps rollouts running while the backend trains (at most one policy version stale).",
    options: {
      steps: { type: "string", value: "N", default: "30", check: { kind: "whole", min: 1 }, description: "Policy updates to make." },
      dir: { type: "string", value: "DIR", description: "Where the store, reward-curve.svg and result.json go. Default: .tracetrain/demo." },
      seed,
      async: { type: "boolean", default: false, description: "Keep rollouts running while the backend trains (at most one policy version stale)." },
    },
  },
  "dataset check": {
    summary:
      "Read a dataset file as loadDataset does (JSONL, JSON or CSV, by its extension unless --format says) and print how many rows it has, or the first problem as FILE:LINE: what.",
    positionals: ["FILE"],
    options: {
      format: { type: "string", value: DATASET_FORMATS.join("|"), check: { kind: "choice", choices: DATASET_FORMATS }, description: "Read the file as this format, whatever its extension." },
    },
  },
  init: {
    summary:
      "Write a small project into DIR (default: this folder), which must be new or empty unless --force (then same-named files are replaced): an agent for the framework (default openai) that reads its prompt with ctx.prompt() and its model with ctx.llm(), 24 support tickets, simulated models, and main.ts, which evaluates the agent, optimizes its prompt with APO and prints a before/after table. Then: cd DIR, npm install, npm start (offline; set OPENAI_BASE_URL, OPENAI_API_KEY and OPENAI_MODEL for a real endpoint).",
    positionals: ["[DIR]"],
    options: {
      framework: {
        type: "string",
        value: INIT_FRAMEWORKS.join("|"),
        default: "openai",
        check: { kind: "choice", choices: INIT_FRAMEWORKS },
        description: "The framework the agent is written with (plain: the openai SDK without a framework).",
      },
      force: { type: "boolean", default: false, description: "Write into a folder that is not empty; files of the same name are replaced, others left alone." },
    },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMAND_SPECS;

export const COMMAND_NAMES = Object.keys(COMMAND_SPECS) as CommandName[];

/** The spec of `name`, or undefined for a name that is not a command. */
export function commandSpec(name: string): CommandSpec | undefined {
  return Object.hasOwn(COMMAND_SPECS, name) ? COMMAND_SPECS[name as CommandName] : undefined;
}

/** The command `argv` names ("store serve", "runner", …) and its arguments, or undefined. */
export function commandOf(argv: readonly string[]): { name: CommandName; args: string[] } | undefined {
  const [first, second] = argv;
  if (first === undefined) return undefined;
  const two = `${first} ${second}`;
  if (second !== undefined && commandSpec(two) !== undefined) return { name: two as CommandName, args: argv.slice(2) };
  if (commandSpec(first) !== undefined) return { name: first as CommandName, args: argv.slice(1) };
  return undefined;
}

/** What `tracetrain X --help` should name for a failure of `argv`: its command, the family of an unfinished one ("store"), or nothing. */
export function helpTopicOf(argv: readonly string[]): string | undefined {
  const first = argv[0];
  const family = first !== undefined && subcommandsOf(first).length > 0;
  return commandOf(argv)?.name ?? (family ? first : undefined);
}

/** The commands whose first word is `first` ("store" → ["serve"]), by their second word. */
export function subcommandsOf(first: string): string[] {
  return COMMAND_NAMES.filter((name) => name.startsWith(`${first} `)).map((name) => name.slice(first.length + 1));
}
