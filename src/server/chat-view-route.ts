/**
 * `GET /v1/rollouts/:rolloutId/attempts/:attemptId/chat[?agents=a,b&credit=final]`: the LLM calls
 * of one attempt as chat — prompt messages, responses with their exact token ids and logprobs,
 * tool calls and the tool spans that ran them — read by the adapters exactly as training reads
 * them, under the agent selection and credit policy asked for; with which capture layer saw which
 * call and what the adapters left out, and why. What the dashboard shows is what a trainer would
 * get. Read only; behind the bearer token like the rest of the API.
 */
import { Attr, type CaptureCoverage, type ChatView, type ChatViewCall, type TraceDiagnostics } from "../types/index.js";
import { type Store, rejectUnknownParams } from "../store/index.js";
import { type Route, requestUrl, sendJson } from "../http/index.js";
import { type AdaptedAttempt, type ExtractedCall, DEFAULT_PRICES, adaptAttempt, contextFromRollout, creditPolicyFromName, tokenFigures } from "../adapters/index.js";
import { readAttempt } from "./attempt-spans.js";

/** The chat-view route over `store`; `startStoreServer` adds it with the dashboard. */
export function createChatViewRoute(store: Store): Route {
  return {
    method: "GET",
    path: "/v1/rollouts/:rolloutId/attempts/:attemptId/chat",
    async handle(request, response, _body, { params }) {
      const query = requestUrl(request.url).searchParams;
      rejectUnknownParams(query, ["agents", "credit"], "chat view query");
      const agents = query.get("agents")?.split(",").filter((a) => a !== "") ?? [];
      const creditName = query.get("credit") ?? "final";
      const credit = creditPolicyFromName(creditName); // a ValidationError (400) names an unknown policy
      const rolloutId = params.rolloutId ?? "";
      const attemptId = params.attemptId ?? "";
      const { rollout, spans } = await readAttempt(store, rolloutId, attemptId);
      // The context is the attempt's own outcome, as the store recorded it (not the rollout's latest attempt's).
      const attempt = rollout.attempts.find((a) => a.attemptId === attemptId);
      const context = { ...contextFromRollout(rollout), finalReward: attempt?.finalReward ?? null };
      const adapted = adaptAttempt({ rolloutId, attemptId, spans }, { credit, context, ...(agents.length > 0 ? { agents } : {}) });
      const rewards = new Map(adapted.trajectory.transitions.map((t) => [t.callId, t.reward]));
      const view: ChatView = {
        rolloutId,
        attemptId,
        agents: agentsPresent(adapted),
        selection: { agents: agents.length > 0 ? agents : null, credit: credit.name },
        calls: adapted.calls.map((call) => chatCall(call, adapted, rewards)),
        coverage: coverage(adapted),
        diagnostics: diagnostics(adapted),
        tokens: tokenFigures(adapted.calls, DEFAULT_PRICES),
      };
      sendJson(response, 200, view);
    },
  };
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : undefined);

function layerOf(adapted: AdaptedAttempt, spanId: string): string {
  const attributes = adapted.tree.byId.get(spanId)?.span?.attributes ?? {};
  // The tracetrain SDK labels everything it records; a span without a label was sent by another tool (over OTLP, or straight to the store).
  return text(attributes[Attr.layer]) ?? "unlabelled";
}

/** One call in the chat view: the page reads this shape (src/dashboard/records.ts, `ChatCall`). */
function chatCall(call: ExtractedCall, adapted: AdaptedAttempt, rewards: ReadonlyMap<string, number | undefined>): ChatViewCall {
  const reward = rewards.get(call.callId);
  return {
    callId: call.callId,
    agentName: call.agentName ?? null,
    model: call.model ?? null,
    selected: call.selected,
    exclusion: call.exclusion ?? null,
    reward: reward ?? null,
    prompt: call.promptMessages ?? [],
    promptTokenIds: call.promptTokenIds ?? null,
    responses: call.choices.map((c) => ({ message: c.message ?? null, finishReason: c.finishReason ?? null, tokenIds: c.tokenIds ?? null, logprobs: c.logprobs ?? null })),
    toolUses: call.toolUses,
    problems: call.messageProblems,
    layers: [...new Set([call.callId, ...call.aliases].map((id) => layerOf(adapted, id)))],
    mergedSpanIds: call.aliases,
  };
}

function agentsPresent(adapted: AdaptedAttempt): string[] {
  const names = new Set<string>();
  for (const call of adapted.calls) if (call.agentName !== undefined) names.add(call.agentName);
  for (const node of adapted.tree.nodes) {
    const name = text(node.span?.attributes?.[Attr.agentName]) ?? text(node.span?.attributes?.[Attr.genAiAgentName]);
    if (name !== undefined) names.add(name);
  }
  return [...names].sort();
}

/** Drops that say the record itself is odd (not a choice of what to train on): capture problems. */
const CAPTURE_DROPS = new Set(["duplicate_span_id", "parent_cycle", "malformed_attribute"]);

function coverage(adapted: AdaptedAttempt): CaptureCoverage {
  const layers = new Map<string, { spans: number; calls: number }>();
  const entry = (layer: string) => {
    const counts = layers.get(layer) ?? { spans: 0, calls: 0 };
    layers.set(layer, counts);
    return counts;
  };
  for (const node of adapted.tree.nodes) entry(layerOf(adapted, node.spanId)).spans++;
  const warnings: string[] = [];
  let merged = 0;
  for (const call of adapted.calls) {
    for (const layer of new Set([call.callId, ...call.aliases].map((id) => layerOf(adapted, id)))) entry(layer).calls++;
    merged += call.aliases.length;
    const warning = text(call.node.span?.attributes?.[Attr.captureWarning]);
    if (warning !== undefined) warnings.push(`call ${call.callId}: ${warning}`);
  }
  const incomplete = adapted.tree.nodes.filter((n) => n.span?.attributes?.[Attr.incomplete] === true).length;
  if (incomplete > 0) warnings.push(`${incomplete} span(s) were left open by the agent and closed when the trace ended`);
  for (const item of adapted.diagnostics.dropped) if (CAPTURE_DROPS.has(item.reason)) warnings.push(`span ${item.spanId}: ${item.detail}`);
  if (adapted.calls.length === 0) warnings.push("no LLM call was recorded in this attempt: the agent's LLM client may not be one the tracer hooks — route its calls through the gateway, or check tracer.instrument()'s results");
  const textOnly = adapted.calls.filter((c) => c.promptTokenIds === undefined || c.choices[0]?.tokenIds === undefined).length;
  if (textOnly > 0) warnings.push(`${textOnly} of ${adapted.calls.length} call(s) have no token ids (text only: not trainable by RL); the gateway or a vLLM-style server records them`);
  return { layers: [...layers].map(([layer, counts]) => ({ layer, ...counts })).sort((a, b) => a.layer.localeCompare(b.layer)), merged, warnings };
}

function diagnostics(adapted: AdaptedAttempt): TraceDiagnostics {
  const d = adapted.diagnostics;
  const reasons = new Map<string, number>();
  for (const call of adapted.calls) if (!call.selected) reasons.set(call.exclusion ?? "excluded", (reasons.get(call.exclusion ?? "excluded") ?? 0) + 1);
  const dropped = d.callsFound - d.callsSelected;
  const why = [...reasons].map(([reason, n]) => `${n} ${reason.replaceAll("_", " ")}`).join(", ");
  const failed = d.dropped.filter((x) => x.reason === "failed_call" || x.reason === "no_response").length;
  const summary =
    `${d.callsSelected} of ${d.callsFound} call${d.callsFound === 1 ? "" : "s"} become${d.callsSelected === 1 && d.callsFound === 1 ? "s" : ""} training data` +
    (dropped > 0 ? `; ${dropped} dropped: ${why}` : "") +
    (failed > 0 ? `; ${failed} failed or empty call(s) not counted` : "");
  return {
    callsFound: d.callsFound,
    callsSelected: d.callsSelected,
    callsWithTokenIds: d.callsWithTokenIds,
    creditPolicy: d.creditPolicy,
    finalReward: d.finalReward,
    summary,
    dropped: d.dropped.map((x) => ({ spanId: x.spanId, reason: x.reason, detail: x.detail })),
    warnings: d.warnings,
  };
}
