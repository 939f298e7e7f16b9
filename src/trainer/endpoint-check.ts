import type { ResourcesMap } from "../types/index.js";
import { TracetrainError } from "../types/index.js";
import { describeErrorChain } from "../util/index.js";

/** One LLM endpoint that did not answer. */
interface Unreachable {
  resource: string;
  url: string;
  reason: string;
}

/**
 * Checks, before any rollout runs, that every LLM endpoint the resources name answers HTTP at
 * all: a GET of `{baseUrl}/models`, where any status (a 401, a gateway's 404 for an unscoped path)
 * counts as reachable — only a connection that fails or a server silent for `timeoutMs` does not.
 * Throws an `unavailable` TracetrainError naming each resource, its URL and why, instead of letting
 * every rollout fail the same way.
 */
export async function checkLlmEndpoints(resources: ResourcesMap, timeoutMs: number): Promise<void> {
  const checks = Object.entries(resources).flatMap(([name, resource]) => (resource.kind === "llm" ? [{ name, baseUrl: resource.baseUrl }] : []));
  const found = await Promise.all(checks.map(async ({ name, baseUrl }) => probe(name, baseUrl, timeoutMs)));
  const unreachable = found.filter((u): u is Unreachable => u !== undefined);
  if (unreachable.length === 0) return;
  const lines = unreachable.map((u) => `the LLM endpoint of resource '${u.resource}' (${u.url}) cannot be reached: ${u.reason}`);
  throw new TracetrainError(
    "unavailable",
    `${lines.join("; ")}. No rollout was started. Point the resource's baseUrl at a running OpenAI-compatible server (the README's examples read OPENAI_BASE_URL), or pass checkEndpoints: false to skip this check.`,
    { endpoints: unreachable.map((u) => ({ ...u })) },
  );
}

async function probe(resource: string, baseUrl: string, timeoutMs: number): Promise<Unreachable | undefined> {
  // fetch refuses URLs with credentials; reachability does not need them.
  const url = withoutCredentials(`${baseUrl.replace(/\/+$/, "")}/models`);
  const shown = withoutCredentials(baseUrl);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await response.body?.cancel();
    return undefined;
  } catch (error) {
    const timedOut = error instanceof Error && error.name === "TimeoutError";
    return { resource, url: shown, reason: timedOut ? `GET ${url} got no answer within ${timeoutMs} ms` : `GET ${url} failed: ${describeErrorChain(error)}` };
  }
}

/** A URL as it may be shown: a password in it is not. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return url;
  }
}
