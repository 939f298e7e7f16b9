/**
 * `GET /v1/tokens?rollouts=a,b,…`: the token figures of each named rollout's latest attempt — what
 * its LLM calls spent, read by the adapters' token accounting (usage or counted, judges apart,
 * priced with the default table). The rollouts list asks for the rows it shows; at most
 * {@link MAX_ROLLOUTS} at once. Read only; behind the bearer token like the rest of the API.
 */
import { DEFAULT_PRICES, adaptAttempt, tokenFigures } from "../adapters/index.js";
import { type Store, rejectUnknownParams } from "../store/index.js";
import { type Route, requestUrl, sendJson } from "../http/index.js";
import { type RolloutTokens, ValidationError } from "../types/index.js";
import { readAttempt } from "./attempt-spans.js";

/** Rollouts one request may name: a page of the list, with room. */
export const MAX_ROLLOUTS = 100;

export function createTokensRoute(store: Store): Route {
  return {
    method: "GET",
    path: "/v1/tokens",
    async handle(request, response) {
      const query = requestUrl(request.url).searchParams;
      rejectUnknownParams(query, ["rollouts"], "tokens query");
      const ids = [...new Set((query.get("rollouts") ?? "").split(",").filter((id) => id !== ""))];
      if (ids.length === 0 || ids.length > MAX_ROLLOUTS) {
        throw new ValidationError("tokens query", [{ path: "rollouts", message: `must name 1 to ${MAX_ROLLOUTS} rollout ids, comma-separated (got ${ids.length})` }]);
      }
      const items: RolloutTokens["items"] = [];
      for (const rolloutId of ids) {
        const rollout = await store.getRollout(rolloutId);
        const attempt = rollout.attempts.at(-1);
        if (attempt === undefined) continue; // not started: nothing spent yet
        const { spans } = await readAttempt(store, rolloutId, attempt.attemptId);
        items.push({ rolloutId, attemptId: attempt.attemptId, tokens: tokenFigures(adaptAttempt({ rolloutId, attemptId: attempt.attemptId, spans }).calls, DEFAULT_PRICES) });
      }
      const body: RolloutTokens = { items };
      sendJson(response, 200, body);
    },
  };
}
