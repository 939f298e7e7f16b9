/**
 * `tracetrain/testing`: test your agents and stores offline. {@link startMockLlm} is a
 * deterministic OpenAI-compatible server (chat completions, completions, Responses, Anthropic
 * messages; SSE streaming, tool calls, vLLM's `prompt_token_ids` / `token_ids` / logprobs) that the
 * real SDKs talk to; {@link describeStoreConformance} is the suite every `Store` backend passes,
 * {@link describeBackendConformance} the one every `TrainingBackend` passes.
 *
 * @packageDocumentation
 */
export * from "../testing/index.js";
