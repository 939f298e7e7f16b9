/**
 * `tracetrain/gateway`: an OpenAI- and Anthropic-compatible LLM gateway. Agents in any language
 * point their base URL at a rollout-scoped gateway URL; every call is recorded with exact token ids
 * and relayed to the upstream engine.
 *
 * @packageDocumentation
 */
export * from "../gateway/index.js";
