import type { AttemptError, Logger, ResourcesMap } from "../types/index.js";
import { describeErrorChain, errorChain, errorCode, errorName } from "../util/index.js";

/** System error codes that mean the server was never reached. */
const UNREACHABLE = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_SOCKET"]);

/** What most often makes every rollout fail at once, told apart so each gets its own hint. */
type Cause = "connection" | "credentials";

/**
 * The one-line form of an agent's error for the attempt's record: the whole cause chain (fetch's
 * "fetch failed" says nothing without its cause), then the stack.
 */
export function describeAgentError(error: unknown): string {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  const frames = stack.indexOf("\n    at ");
  return `${describeErrorChain(error)}${frames >= 0 ? stack.slice(frames) : ""}`;
}

/**
 * Logs the first failed attempt of each kind — its error kind, its error, and a hint when the
 * cause is a common one (an endpoint not reached, credentials refused) — so a run whose rollouts
 * all fail says why at once. Later failures of a kind are not logged; every attempt keeps its error.
 */
export class FailureLog {
  private readonly seen = new Set<string>();

  constructor(private readonly logger: Logger) {}

  note(rolloutId: string, error: AttemptError, cause: unknown, resources: ResourcesMap | undefined): void {
    const kind = classify(cause);
    const key = `${error.kind}:${kind ?? (cause instanceof Error ? errorName(cause) : "other")}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const what = cause === undefined ? (error.message.split("\n")[0] ?? "") : describeErrorChain(cause);
    const hint = hintFor(error.kind, kind, resources);
    this.logger.error(
      `rollout ${rolloutId} failed (${error.kind}): ${what}${hint ? `\n  hint: ${hint}` : ""}\n  (first failure of this kind; each rollout keeps its error in attempts[].error, and evaluate() in tasks[].error)`,
    );
  }
}

function classify(error: unknown): Cause | undefined {
  if (error === undefined) return undefined;
  const chain = errorChain(error);
  const code = errorCode(error);
  if ((code !== undefined && UNREACHABLE.has(code)) || chain.some((e) => e instanceof Error && (/^APIConnection/.test(errorName(e)) || e.message === "fetch failed"))) return "connection";
  const status = chain.map((e) => (typeof e === "object" && e !== null ? (e as { status?: unknown }).status : undefined)).find((s) => typeof s === "number");
  if (status === 401 || status === 403 || chain.some((e) => e instanceof Error && /missing credentials|api[ _-]?key/i.test(e.message))) return "credentials";
  return undefined;
}

function hintFor(kind: AttemptError["kind"], cause: Cause | undefined, resources: ResourcesMap | undefined): string | undefined {
  const endpoints = Object.entries(resources ?? {}).flatMap(([name, r]) => (r.kind === "llm" ? [`'${name}' at ${r.baseUrl}`] : []));
  const named = endpoints.length > 0 ? ` (its llm resources: ${endpoints.join(", ")})` : "";
  if (cause === "connection") {
    return `the agent could not reach its model endpoint${named}. If it builds its client from the environment, set OPENAI_BASE_URL (and OPENAI_API_KEY); otherwise check the server is up and the resource's baseUrl points at it`;
  }
  if (cause === "credentials") return `the model endpoint was given no key or refused it${named}: set OPENAI_API_KEY, or the llm resource's apiKey`;
  if (kind === "timeout") return "raise rolloutConfig.timeoutMs, or let the agent stop when ctx.signal fires";
  return undefined;
}
