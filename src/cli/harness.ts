/**
 * `tracetrain harness`: runs one rollout of an unchanged tracetrain agent as an Agent Lightning
 * v1.0 "harness" process, so that project's controller and verl trainer can train it.
 *
 * Their controller starts one process per rollout and tells it everything through the
 * environment: `AGL_OPENAI_BASE_URL` (the rollout's own LLM proxy URL, mode included — every call
 * through it is captured for training), `AGL_EVENT_URL` (where the rollout's events go), `AGL_KEY`
 * (the bearer key for both; set to "" when their server has none) and the task's fields (local
 * mode: strings as-is, anything else JSON-encoded; Kubernetes mode: whatever the Job template
 * renders). The process posts `{"event_type":"reward","data":{"value":r}}` and exits 0 on
 * success; any other exit code marks the rollout failed.
 *
 * The agent runs under the real Runner against a throwaway in-memory store: it gets the same
 * context, reward semantics (returned or emitted) and error handling as under `tracetrain runner`,
 * and the store is dropped at exit because the Agent Lightning gateway keeps the record. Its LLM
 * calls go through a local relay (agl-relay.ts) that holds them while the proxy is paused.
 */
import { needsTsx, rerunWithTsx } from "./typescript-loading.js";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Agent, Runner, importAgent } from "../runner/index.js";
import { MemoryStore } from "../store/index.js";
import { Tracer } from "../tracer/index.js";
import {
  type JsonValue,
  LlmResourceSchema,
  type ResourcesMapInput,
  ResourcesMapSchema,
  type RolloutMode,
  TracetrainError,
  ValidationError,
  consoleLogger,
  parseOrThrow,
} from "../types/index.js";
import { sleep } from "../util/index.js";
import { startAglRelay } from "./agl-relay.js";
import { COMMAND_SPECS } from "./commands.js";
import { seconds } from "./values.js";

/** The three variables of Agent Lightning's contract (task fields come on top). */
export const AGL_ENV = { baseUrl: "AGL_OPENAI_BASE_URL", eventUrl: "AGL_EVENT_URL", key: "AGL_KEY" } as const;

/** POSTs of the reward event, in all: the first plus two retries. */
const POST_ATTEMPTS = 3;
/** First retry delay; doubles after each failure. Short: the controller's rollout timeout is ticking. */
const POST_BACKOFF_MS = 250;
/** One POST may take this long before it counts as a network failure (a hung gateway must not hang the rollout). */
const POST_TIMEOUT_MS = 10_000;

/** Runs `tracetrain harness ARGS`; resolves with the process exit code. */
export async function harnessCommand(args: string[]): Promise<number> {
  const options = parseOptions(args);
  const env = process.env;
  const contract = readContract(env);
  const task = readTask(env, options);
  const fromFile = options.resourcesFile === undefined ? {} : await readResourcesFile(options.resourcesFile);
  if ("main" in fromFile) process.stderr.write(`tracetrain: note: resource 'main' of ${options.resourcesFile} is replaced by the LLM at ${AGL_ENV.baseUrl}\n`);

  // Everything above is checked before tsx is started, so a contract error is quick and printed once.
  if (needsTsx(options.agentPath)) return rerunWithTsx();

  const agent = await importAgent(options.agentPath, options.agentName);
  const relay = await startAglRelay({ target: new URL(contract.baseUrl), maxWaitMs: options.maxPauseSeconds * 1000, note: (line) => void process.stderr.write(`${line}\n`) });
  let reward: number | null | undefined;
  try {
    const resources: ResourcesMapInput = {
      ...fromFile,
      // The proxy is the only place Agent Lightning records calls: an LLM the file names `main`
      // would send them around it, so nothing would be trained. The injected one always wins.
      main: { kind: "llm", baseUrl: relay.baseUrl, model: options.model, ...(contract.key === undefined ? {} : { apiKey: contract.key }) },
    };
    reward = await runOnce(agent, task, resources, contract.mode);
  } finally {
    await relay.close();
  }
  if (reward === undefined) return 1;
  warnIfUntrained(agent.name, relay.calls);
  if (reward === null || !Number.isFinite(reward)) {
    process.stderr.write(`tracetrain: agent '${agent.name}' finished without a reward (return a number or call emitReward(value, { final: true })); nothing posted\n`);
    return 1;
  }

  await postReward(contract.eventUrl, contract.key, reward);
  process.stdout.write(`reward ${reward} posted to ${contract.eventUrl}\n`);
  return 0;
}

/** Agent Lightning trains on the calls its proxy answered: a rollout without one is scored but teaches nothing. */
function warnIfUntrained(agentName: string, calls: { made: number; answered: number }): void {
  if (calls.answered > 0) return;
  const made = calls.made === 0 ? "made no LLM call through" : `had none of its ${calls.made} LLM call(s) answered by`;
  process.stderr.write(
    `tracetrain: warning: agent '${agentName}' ${made} the base URL it was given (ctx.llm().baseUrl, Agent Lightning's proxy): ` +
      "only calls through that proxy are trained, so this rollout may train nothing\n",
  );
}

/**
 * One rollout under the real Runner and a throwaway store: its reward (null when it gave none),
 * or undefined when the agent failed — then the exit code tells the controller, and posting a
 * reward would make a failed rollout look scored.
 */
async function runOnce(agent: Agent<unknown>, task: JsonValue, resources: ResourcesMapInput, mode: RolloutMode): Promise<number | null | undefined> {
  const store = new MemoryStore();
  const tracer = new Tracer({ logger: consoleLogger });
  // The same hooks as `tracetrain runner`: the agent's calls are traced as they are under every
  // other command (without them the tracer warns that the rollout made no LLM call).
  await tracer.instrument();
  try {
    const runner = new Runner({ store, agent, tracer, logger: consoleLogger, concurrency: 1 });
    const { rollout } = await runner.step(task, { resources, mode });
    return rollout.finalReward;
  } catch (error) {
    process.stderr.write(`tracetrain: agent '${agent.name}' failed; no reward posted\n${describeError(error)}\n`);
    return undefined;
  } finally {
    tracer.uninstrument();
    await store.close();
  }
}

/** One task field from one environment variable: `--task-env [FIELD=]VAR[:json]`. */
interface TaskField {
  field: string;
  variable: string;
  /** Decode the value as JSON (a non-string field); otherwise it is the variable's exact text. */
  json: boolean;
}

interface HarnessOptions {
  agentPath: string;
  agentName: string | undefined;
  taskFields: TaskField[];
  taskJsonEnv: string | undefined;
  model: string;
  resourcesFile: string | undefined;
  maxPauseSeconds: number;
}

const OPTIONS = COMMAND_SPECS.harness.options;

/** A POSIX environment variable name. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function parseOptions(args: string[]): HarnessOptions {
  const parse = () => {
    try {
      return parseArgs({ args, strict: true, options: OPTIONS }).values;
    } catch (error) {
      // node's own parse errors (unknown option, missing value) are usage errors too: exit 2.
      throw new ValidationError("command line", [{ path: "harness", message: error instanceof Error ? error.message : String(error) }]);
    }
  };
  const values = parse();
  if (!values.agent) throw new ValidationError("command line", [{ path: "--agent", message: "required (the module that exports the agent)" }]);
  const taskFields = (values["task-env"] ?? []).map(parseTaskField);
  if (values["task-json-env"] !== undefined && taskFields.length > 0) {
    throw new ValidationError("command line", [{ path: "--task-json-env", message: "give either --task-json-env (the whole task) or --task-env (its fields), not both" }]);
  }
  const repeated = taskFields.find((f, i) => taskFields.findIndex((g) => g.field === f.field) !== i);
  if (repeated) throw new ValidationError("command line", [{ path: "--task-env", message: `field '${repeated.field}' is given twice` }]);
  if (values.model.trim() === "") throw new ValidationError("command line", [{ path: "--model", message: "expected a model name" }]);
  const maxPauseSeconds = seconds("--max-pause", values["max-pause"]);
  return {
    agentPath: values.agent,
    agentName: values.name,
    taskFields,
    taskJsonEnv: values["task-json-env"],
    model: values.model,
    resourcesFile: values.resources,
    maxPauseSeconds,
  };
}

/** `[FIELD=]VAR[:json]`: the field is named after the variable unless given. */
function parseTaskField(spec: string): TaskField {
  const equals = spec.indexOf("=");
  const field = equals < 0 ? undefined : spec.slice(0, equals);
  let variable = spec.slice(equals + 1);
  const json = variable.endsWith(":json");
  if (json) variable = variable.slice(0, -":json".length);
  if (!VARIABLE_NAME.test(variable) || field === "") {
    throw new ValidationError("command line", [
      { path: "--task-env", message: `expected [FIELD=]VARIABLE[:json] (say question=QUESTION or result=RESULT:json), got ${JSON.stringify(spec)}` },
    ]);
  }
  return { field: field ?? variable, variable, json };
}

interface Contract {
  baseUrl: string;
  eventUrl: string;
  /**
   * Undefined when unset or empty: Agent Lightning's gateway runs without auth when its key is
   * empty, and its controller then passes `AGL_KEY=""` — which, as an apiKey, makes SDK clients
   * refuse to start ("Missing credentials") instead of calling without one.
   */
  key: string | undefined;
  mode: RolloutMode;
}

function readContract(env: NodeJS.ProcessEnv): Contract {
  const url = (name: string): string => {
    const value = env[name];
    const why = "(Agent Lightning's controller sets it; is this process running under agl-controller?)";
    if (value === undefined || value.trim() === "") throw new ValidationError("environment", [{ path: name, message: `not set ${why}` }]);
    if (!LlmResourceSchema.shape.baseUrl.safeParse(value).success) {
      throw new ValidationError("environment", [{ path: name, message: `expected an http(s) URL, got ${JSON.stringify(value)}` }]);
    }
    return value;
  };
  const baseUrl = url(AGL_ENV.baseUrl);
  const eventUrl = url(AGL_ENV.eventUrl);
  // The proxy URL carries the mode (…/mode/val/openai/v1): validation rollouts are evaluated, not trained on.
  const mode: RolloutMode = /\/mode\/val(\/|$)/.test(new URL(baseUrl).pathname) ? "val" : "train";
  return { baseUrl, eventUrl, key: env[AGL_ENV.key] || undefined, mode };
}

/**
 * The task: the JSON in one variable, or an object of the --task-env fields. A field is the
 * variable's exact text unless it is marked `:json`: the text alone cannot tell the string "42"
 * from the number 42, so the command line says which.
 */
function readTask(env: NodeJS.ProcessEnv, options: HarnessOptions): JsonValue {
  const read = (name: string, flag: string): string => {
    const value = env[name];
    if (value === undefined) throw new ValidationError("task", [{ path: name, message: `environment variable not set (named by ${flag})` }]);
    return value;
  };
  if (options.taskJsonEnv !== undefined) {
    const name = options.taskJsonEnv;
    return parseJsonValue(name, read(name, "--task-json-env"));
  }
  const task: Record<string, JsonValue> = {};
  for (const { field, variable, json } of options.taskFields) {
    const text = read(variable, "--task-env");
    task[field] = json ? parseJsonValue(variable, text) : text;
  }
  return task;
}

/** Python's `str()` of True, False, None, a dict or a list of strings: what Agent Lightning's `yaml_escape` renders a non-string as. */
const PYTHON_TEXT = /^(True|False|None|\{'.*|\['.*)$/s;

function parseJsonValue(variable: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    const hint = PYTHON_TEXT.test(text.trim())
      ? "; this is Python text: Agent Lightning's Kubernetes template filter yaml_escape renders non-strings with str(), so pass the whole task as JSON instead (TASK: {{ input | tojson | yaml_escape }} with --task-json-env TASK)"
      : "";
    throw new ValidationError("task", [{ path: variable, message: `not JSON (${error instanceof Error ? error.message : String(error)}): ${excerpt(text)}${hint}` }]);
  }
}

async function readResourcesFile(file: string): Promise<ResourcesMapInput> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    throw new ValidationError("command line", [{ path: "--resources", message: `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`resources file ${file}`, [{ path: "", message: `not JSON: ${error instanceof Error ? error.message : String(error)}` }]);
  }
  // Checked here, not by the store, so the error names the file and the field.
  return parseOrThrow(ResourcesMapSchema, value, `resources file ${file}`);
}

/**
 * POSTs the reward event. Network errors, timeouts, 408, 429 and 5xx are retried a couple of times
 * (a gateway restarting or busy); any other answer is final — a 401 will not get better.
 */
async function postReward(eventUrl: string, key: string | undefined, value: number): Promise<void> {
  const body = JSON.stringify({ event_type: "reward", data: { value } });
  const headers: Record<string, string> = { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) };
  let failure = "";
  for (let attempt = 1; attempt <= POST_ATTEMPTS; attempt++) {
    if (attempt > 1) await sleep(POST_BACKOFF_MS * 2 ** (attempt - 2));
    let response: Response;
    try {
      response = await fetch(eventUrl, { method: "POST", headers, body, signal: AbortSignal.timeout(POST_TIMEOUT_MS) });
    } catch (error) {
      failure = `could not reach it: ${describeCause(error)}`;
      continue;
    }
    const text = await response.text().catch(() => "");
    if (response.ok) return;
    failure = `it answered ${response.status}${text ? `: ${excerpt(text)}` : ""}`;
    const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
    if (!retryable) {
      throw new TracetrainError(response.status === 401 || response.status === 403 ? "unauthorized" : "unavailable", `posting the reward to ${eventUrl} failed: ${failure}`);
    }
  }
  throw new TracetrainError("unavailable", `posting the reward to ${eventUrl} failed after ${POST_ATTEMPTS} attempts: ${failure}`);
}

function excerpt(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/** fetch's TypeError says only "fetch failed"; the reason (ECONNREFUSED, a timeout) is in its cause. */
function describeCause(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  return `${error.message}${cause}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}
