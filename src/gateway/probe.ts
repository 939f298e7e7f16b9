/**
 * Asks an upstream what it supports, with one tiny real call: the first model it lists, one
 * generated token, token ids and logprobs requested. A server that sends them back supports them;
 * one that fails or ignores the request is treated as text-only (calls are then still recorded,
 * marked `text_only`, never with made-up token ids).
 */
import type { Logger } from "../types/index.js";
import type { UpstreamClient } from "./upstream-request.js";
import { type Capabilities, type ParsedUpstream, type Upstream, needsProbe, toUpstreams } from "./upstreams.js";

const PROBE_TIMEOUT_MS = 10_000;
const NONE: Capabilities = { tokenIds: false, logprobs: false };

/**
 * Resolves validated upstreams with what each supports: what its `capabilities` say, and (when
 * `probe`) what the probe finds for the rest.
 */
export async function withCapabilities(inputs: readonly ParsedUpstream[], probe: boolean, client: UpstreamClient, logger: Logger): Promise<Upstream[]> {
  const upstreams = toUpstreams(inputs);
  if (!probe) return upstreams;
  await Promise.all(
    upstreams.map(async (upstream, i) => {
      if (!needsProbe(inputs[i]!)) return;
      const probed = await probeCapabilities(client, upstream, logger);
      // What the operator said wins over what the probe found.
      upstream.capabilities = { ...probed, ...definedOnly(inputs[i]!.capabilities) };
    }),
  );
  return upstreams;
}

function definedOnly(capabilities: Partial<Capabilities> | undefined): Partial<Capabilities> {
  return Object.fromEntries(Object.entries(capabilities ?? {}).filter(([, v]) => v !== undefined));
}

async function probeCapabilities(client: UpstreamClient, upstream: Upstream, logger: Logger): Promise<Capabilities> {
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const call = (method: string, path: string, body?: unknown) =>
    client.sendOnce(upstream, {
      method,
      path,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      credentials: {},
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      signal,
      timeoutMs: PROBE_TIMEOUT_MS,
    });
  try {
    const models = await call("GET", "/v1/models");
    const model = firstModel(models);
    if (model === undefined) {
      logger.warn(`upstream '${upstream.name}' listed no model; treating it as text-only (set its capabilities to skip the probe)`);
      return NONE;
    }
    const answer = await call("POST", "/v1/chat/completions", {
      model,
      messages: [{ role: "user", content: "ping" }],
      max_tokens: 1,
      return_token_ids: true,
      logprobs: true,
    });
    const choice = firstChoice(answer);
    const capabilities: Capabilities = {
      tokenIds: Array.isArray(record(answer)?.prompt_token_ids) || Array.isArray(choice?.token_ids),
      logprobs: choice?.logprobs !== undefined && choice.logprobs !== null,
    };
    logger.info(`upstream '${upstream.name}': token ids ${capabilities.tokenIds ? "yes" : "no"}, logprobs ${capabilities.logprobs ? "yes" : "no"}`);
    return capabilities;
  } catch (error) {
    logger.warn(`could not probe upstream '${upstream.name}' (${error instanceof Error ? error.message : String(error)}); treating it as text-only until its upstreams are set again`);
    return NONE;
  }
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function firstModel(list: unknown): string | undefined {
  const data = record(list)?.data;
  const first = Array.isArray(data) ? record(data[0]) : undefined;
  return typeof first?.id === "string" ? first.id : undefined;
}

function firstChoice(answer: unknown): Record<string, unknown> | undefined {
  const choices = record(answer)?.choices;
  return Array.isArray(choices) ? record(choices[0]) : undefined;
}
