/**
 * The trace page's spans: `GET /v1/rollouts/:rolloutId/attempts/:attemptId/trace` sends every span
 * of the attempt in outline — what the waterfall and tree draw, a tenth of the bytes of the full
 * spans — and `GET …/attempts/:attemptId/spans/:spanId` one span whole, every attribute, when the
 * user opens it. Read only; behind the bearer token like the rest of the API.
 */
import { Attr, type Span, type SpanOutline, type TraceOutline } from "../types/index.js";
import { type Store, rejectUnknownParams } from "../store/index.js";
import { type Route, requestUrl, sendJson } from "../http/index.js";
import { attemptSpan, readAttempt } from "./attempt-spans.js";

/** The outline and span routes over `store`; `startStoreServer` adds them with the dashboard. */
export function createTraceRoutes(store: Store): Route[] {
  return [
    {
      method: "GET",
      path: "/v1/rollouts/:rolloutId/attempts/:attemptId/trace",
      async handle(request, response, _body, { params }) {
        rejectUnknownParams(requestUrl(request.url).searchParams, [], "trace query");
        const rolloutId = params.rolloutId ?? "";
        const attemptId = params.attemptId ?? "";
        const body: TraceOutline = { rolloutId, attemptId, spans: outline((await readAttempt(store, rolloutId, attemptId)).spans) };
        sendJson(response, 200, body);
      },
    },
    {
      method: "GET",
      path: "/v1/rollouts/:rolloutId/attempts/:attemptId/spans/:spanId",
      async handle(request, response, _body, { params }) {
        rejectUnknownParams(requestUrl(request.url).searchParams, [], "span query");
        sendJson(response, 200, await attemptSpan(store, params.rolloutId ?? "", params.attemptId ?? "", params.spanId ?? ""));
      },
    },
  ];
}

const text = (value: unknown) => (typeof value === "string" && value !== "" ? value : null);

/** The spans in outline, each with the agent it ran for (its own, else its nearest ancestor's). */
export function outline(spans: readonly Span[]): SpanOutline[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const agents = new Map<string, string | null>();
  const agentOf = (span: Span): string | null => {
    const known = agents.get(span.spanId);
    if (known !== undefined) return known;
    // Walk up to the first span that knows its agent (or was resolved before), then fill in the path.
    const path = new Set<Span>();
    let found: string | null = null;
    // A Set, not a list: the walk checks for a parent loop at every step, and a chain may be thousands of spans deep.
    for (let at: Span | undefined = span; at !== undefined && !path.has(at); at = at.parentId === null ? undefined : byId.get(at.parentId)) {
      const resolved = agents.get(at.spanId);
      if (resolved !== undefined) {
        found = resolved;
        break;
      }
      const own = text(at.attributes[Attr.agentName]) ?? text(at.attributes[Attr.genAiAgentName]);
      path.add(at);
      if (own !== null) {
        found = own;
        break;
      }
    }
    for (const visited of path) agents.set(visited.spanId, found);
    return found;
  };
  return spans.map((span) => {
    const reward = span.attributes[Attr.rewardValue];
    return {
      spanId: span.spanId,
      parentId: span.parentId,
      name: span.name,
      startTime: span.startTime,
      endTime: span.endTime,
      sequence: span.sequence,
      status: span.status.code,
      type: text(span.attributes[Attr.spanType]),
      layer: text(span.attributes[Attr.layer]),
      agent: agentOf(span),
      reward: typeof reward === "number" ? reward : null,
    };
  });
}
