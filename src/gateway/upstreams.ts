/**
 * The OpenAI-compatible servers the gateway forwards to, and which one serves a request.
 *
 * Routing is sticky per rollout: the upstreams are ranked by rendezvous (highest-random-weight)
 * hashing of the rollout id, so every gateway replica sends a rollout to the same server (its
 * prefix cache stays warm) and replacing the list moves only the rollouts whose server left. The
 * rest of the ranking is the failover order for retries.
 */
import { z } from "zod";
import { ValidationError, parseOrThrow } from "../types/index.js";

export const CapabilitiesSchema = z.strictObject({
  /** The server returns exact token ids when asked (`return_token_ids`, as vLLM does). */
  tokenIds: z.boolean(),
  /** The server returns logprobs when asked. */
  logprobs: z.boolean(),
});
export type Capabilities = z.infer<typeof CapabilitiesSchema>;

export const UpstreamSchema = z.strictObject({
  /** The server's OpenAI base URL, e.g. `http://gpu-1:8000/v1` (a trailing `/v1` is optional). */
  url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  /** A name for logs, spans and metrics (default: the URL's host). */
  name: z.string().min(1).max(128).optional(),
  /** Sent upstream as `Authorization: Bearer …` (and `x-api-key` on Anthropic's `/v1/messages`); never recorded or logged. */
  apiKey: z.string().min(1).optional(),
  /** Extra headers sent upstream with every request. */
  headers: z.record(z.string(), z.string()).optional(),
  /** What the server supports; probed at start when left out. */
  capabilities: CapabilitiesSchema.partial().optional(),
  /**
   * The model name this server serves the policy under: it replaces the `model` of every call sent
   * to it (over the policy's), so servers that name the same policy differently can share a pool.
   */
  model: z.string().min(1).optional(),
});
export type UpstreamInput = z.input<typeof UpstreamSchema>;

/** The upstreams of a gateway: at least one. */
export const UpstreamListSchema = z.array(UpstreamSchema).min(1, "at least one upstream is needed");

export interface Upstream {
  name: string;
  /** Origin and path prefix, without the `/v1` that request paths bring. */
  base: URL;
  apiKey: string | undefined;
  headers: Record<string, string>;
  capabilities: Capabilities;
  /** The model name calls sent here get (see `UpstreamSchema.model`). */
  model: string | undefined;
}

/** An upstream as validated: what `UpstreamSchema` returns. */
export type ParsedUpstream = z.output<typeof UpstreamSchema>;

/** Validates an upstream list. */
export function parseUpstreams(inputs: readonly UpstreamInput[]): ParsedUpstream[] {
  return parseOrThrow(UpstreamListSchema, inputs, "gateway upstreams");
}

/** Validates an upstream list and resolves it; capabilities not given start unknown (false) until probed. */
export function resolveUpstreams(inputs: readonly UpstreamInput[]): Upstream[] {
  return toUpstreams(parseUpstreams(inputs));
}

/** Resolves validated upstreams: names default to the URL's host and must differ; capabilities not given start unknown (false). */
export function toUpstreams(parsed: readonly ParsedUpstream[]): Upstream[] {
  const upstreams = parsed.map((u): Upstream => {
    const base = new URL(u.url);
    base.pathname = base.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
    base.search = "";
    base.hash = "";
    return {
      name: u.name ?? base.host,
      base,
      apiKey: u.apiKey,
      headers: u.headers ?? {},
      capabilities: { tokenIds: u.capabilities?.tokenIds ?? false, logprobs: u.capabilities?.logprobs ?? false },
      model: u.model,
    };
  });
  const names = new Set<string>();
  for (const [i, u] of upstreams.entries()) {
    if (names.has(u.name)) throw new ValidationError("gateway upstreams", [{ path: `${i}.name`, message: `duplicate upstream name '${u.name}'` }]);
    names.add(u.name);
  }
  return upstreams;
}

/** Whether the probe should ask this upstream what it supports (it was not told). */
export function needsProbe(input: ParsedUpstream): boolean {
  return input.capabilities?.tokenIds === undefined || input.capabilities.logprobs === undefined;
}

export class UpstreamPool {
  private upstreams: readonly Upstream[] = [];
  private turn = 0;

  constructor(upstreams: readonly Upstream[]) {
    this.replace(upstreams);
  }

  replace(upstreams: readonly Upstream[]): void {
    this.upstreams = [...upstreams];
  }

  list(): readonly Upstream[] {
    return this.upstreams;
  }

  /** What every upstream supports: token data is asked for only if every upstream a retry may reach can give it. */
  common(): Capabilities {
    const all = this.upstreams;
    return { tokenIds: all.every((u) => u.capabilities.tokenIds), logprobs: all.every((u) => u.capabilities.logprobs) };
  }

  /**
   * Every upstream, best first: by rendezvous hash of `key` (a rollout id) when there is one,
   * else in rotation, so unscoped calls spread evenly.
   */
  ranked(key: string | undefined): Upstream[] {
    const all = this.upstreams;
    if (all.length <= 1) return [...all];
    if (key === undefined) {
      const start = this.turn++ % all.length;
      return [...all.slice(start), ...all.slice(0, start)];
    }
    return all
      .map((upstream) => ({ upstream, score: fnv1a(`${upstream.name}\n${key}`) }))
      .sort((a, b) => b.score - a.score || (a.upstream.name < b.upstream.name ? -1 : 1))
      .map((entry) => entry.upstream);
  }
}

/** 32-bit FNV-1a: a fast, stable hash, the same in every process. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
