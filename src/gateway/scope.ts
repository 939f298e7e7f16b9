/**
 * Where a gateway request belongs. An agent's base URL names its rollout attempt —
 * `/rollout/{rolloutId}/attempt/{attemptId}[/agent/{name}]/v1/…` (or `/r/…` for short) — so an
 * unmodified agent that only lets you set `OPENAI_BASE_URL` is attributed without any code. A
 * client that can set headers but not paths may send `x-tracetrain-rollout-id` and
 * `x-tracetrain-attempt-id` (and `x-tracetrain-agent`) with a plain `/v1/…` URL instead.
 */
import type { IncomingHttpHeaders } from "node:http";
import { isId } from "../types/index.js";

export interface Scope {
  rolloutId: string;
  attemptId: string;
  /** The agent that made the call, in a multi-agent system. */
  agentName?: string;
}

export type ParsedPath =
  | { ok: true; scope: Scope | undefined; /** The upstream path, from `/v1` on. */ path: string }
  | { ok: false; message: string };

const PREFIX = /^\/(?:rollout|r)\/([^/]+)\/attempt\/([^/]+)(?:\/agent\/([^/]+))?(\/v1(?:\/.*)?)$/;
const ANY_PREFIX = /^\/(?:rollout|r)\/[^/]+\/attempt\/[^/]+(?:\/agent\/[^/]+)?/;

/** Splits a request path into its scope (if any) and the upstream path. */
export function parsePath(pathname: string, headers: IncomingHttpHeaders): ParsedPath {
  const match = PREFIX.exec(pathname);
  if (match) {
    const [, rollout, attempt, agent, rest] = match;
    const scope = scopeOf(decode(rollout!), decode(attempt!), agent === undefined ? undefined : decode(agent));
    return scope.ok ? { ok: true, scope: scope.scope, path: rest! } : scope;
  }
  if (pathname !== "/v1" && !pathname.startsWith("/v1/")) {
    return { ok: false, message: `no route ${pathname}: use /v1/… or /rollout/{rolloutId}/attempt/{attemptId}/v1/…` };
  }
  const rollout = headerValue(headers, "x-tracetrain-rollout-id");
  const attempt = headerValue(headers, "x-tracetrain-attempt-id");
  if (rollout === undefined && attempt === undefined) return { ok: true, scope: undefined, path: pathname };
  if (rollout === undefined || attempt === undefined) {
    return { ok: false, message: "x-tracetrain-rollout-id and x-tracetrain-attempt-id go together: send both or neither" };
  }
  const scope = scopeOf(rollout, attempt, headerValue(headers, "x-tracetrain-agent"));
  return scope.ok ? { ok: true, scope: scope.scope, path: pathname } : scope;
}

function scopeOf(rolloutId: string | undefined, attemptId: string | undefined, agentName: string | undefined): { ok: true; scope: Scope } | { ok: false; message: string } {
  if (!isId(rolloutId)) return { ok: false, message: `invalid rollout id ${JSON.stringify(rolloutId)} in the request's scope` };
  if (!isId(attemptId)) return { ok: false, message: `invalid attempt id ${JSON.stringify(attemptId)} in the request's scope` };
  if (agentName !== undefined && (agentName.length === 0 || agentName.length > 256)) {
    return { ok: false, message: "the agent name in the request's scope must have 1 to 256 characters" };
  }
  return { ok: true, scope: agentName === undefined ? { rolloutId, attemptId } : { rolloutId, attemptId, agentName } };
}

/** A path segment's text; a malformed escape yields undefined, which the id check rejects. */
function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** A path with any rollout prefix taken off, unchecked: for metrics labels and picking an API's error format. */
export function withoutScope(pathname: string): string {
  return pathname.replace(ANY_PREFIX, "");
}

/** A request header's (first) value. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The base URL an agent of this attempt should use (`…/v1`), for a gateway at `gatewayUrl`. */
export function scopedBaseUrl(gatewayUrl: string, scope: Scope): string {
  const agent = scope.agentName === undefined ? "" : `/agent/${encodeURIComponent(scope.agentName)}`;
  return `${gatewayUrl.replace(/\/+$/, "")}/rollout/${encodeURIComponent(scope.rolloutId)}/attempt/${encodeURIComponent(scope.attemptId)}${agent}/v1`;
}
