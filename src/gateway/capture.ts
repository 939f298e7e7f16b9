/**
 * Exact-token capture: the gateway asks the upstream for prompt and response token ids and
 * logprobs (vLLM's `return_token_ids`, OpenAI's `logprobs`) when the server supports them, and
 * takes out of the response what it added, so the agent receives what it would have received
 * without the gateway. Chat completions and legacy completions only: the Responses API and
 * Anthropic's Messages API have no token-id extension.
 */
import type { WireApi } from "../llm/index.js";
import type { Capabilities } from "./upstreams.js";

/** What the gateway added to a request, so the same fields can be taken out of its response. */
export interface CapturePlan {
  tokenIds: boolean;
  logprobs: boolean;
}

export const NOTHING_ADDED: CapturePlan = Object.freeze({ tokenIds: false, logprobs: false });

type Body = Record<string, unknown>;

/**
 * Adds the token-id and logprob requests the agent did not make itself to `body` (in place) and
 * returns what was added. Nothing else is added: `stream_options.include_usage`, say, would give
 * the agent an extra chunk, and token ids do not need it.
 */
export function addCaptureRequests(api: WireApi, body: Body, capabilities: Capabilities): CapturePlan {
  if (api !== "chat" && api !== "completions") return NOTHING_ADDED;
  const tokenIds = capabilities.tokenIds && body.return_token_ids !== true;
  if (tokenIds) body.return_token_ids = true;
  let logprobs = false;
  if (capabilities.logprobs) {
    if (api === "chat" && body.logprobs !== true) {
      body.logprobs = true;
      logprobs = true;
    } else if (api === "completions" && !(typeof body.logprobs === "number" && body.logprobs >= 0)) {
      // The legacy API's logprobs is a count of alternatives; 1 is the least that includes the sampled token's.
      body.logprobs = 1;
      logprobs = true;
    }
  }
  return tokenIds || logprobs ? { tokenIds, logprobs } : NOTHING_ADDED;
}

/**
 * Takes what `plan` added out of a response body or one stream chunk (in place). Returns whether
 * anything changed, so an unchanged body is passed on byte for byte.
 */
export function removeCaptured(body: unknown, plan: CapturePlan): boolean {
  if (!plan.tokenIds && !plan.logprobs) return false;
  if (typeof body !== "object" || body === null || Array.isArray(body)) return false;
  const record = body as Body;
  let changed = false;
  if (plan.tokenIds && "prompt_token_ids" in record) {
    delete record.prompt_token_ids;
    changed = true;
  }
  const choices = Array.isArray(record.choices) ? record.choices : [];
  for (const choice of choices) {
    if (typeof choice !== "object" || choice === null) continue;
    const c = choice as Body;
    if (plan.tokenIds) {
      for (const key of ["token_ids", "prompt_token_ids"] as const) {
        if (key in c) {
          delete c[key];
          changed = true;
        }
      }
    }
    // Servers send `logprobs: null` when none were asked for; do the same.
    if (plan.logprobs && c.logprobs !== undefined && c.logprobs !== null) {
      c.logprobs = null;
      changed = true;
    }
  }
  return changed;
}
