import type { BackendInfo, CheckpointRequest, CheckpointResponse, EndpointsResponse, RestoreRequest, RestoreResponse, SuperviseRequest, TrainRequest, TrainResponse } from "./protocol.js";

/**
 * Where model weights are trained: a GPU trainer behind HTTP ({@link HttpTrainingBackend}), the
 * CPU {@link ReferenceBackend}, or an exporter. tracetrain only samples through its endpoints
 * (via the gateway) and sends it batches; it never touches weights itself. The methods mirror the
 * routes of protocol `tracetrain-rl/2` (docs/rl-backend-protocol.md).
 */
export interface TrainingBackend {
  info(): Promise<BackendInfo>;
  /** The OpenAI-compatible servers sampling from the current policy. */
  endpoints(): Promise<EndpointsResponse>;
  /**
   * Applies one update (or holds one chunk of it, answering `pending: true`). Resolves once the
   * endpoints serve the new policy.
   */
  train(request: TrainRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse>;
  /**
   * Applies one supervised update — next-token cross-entropy on the samples' mask-1 tokens — (or
   * holds one chunk of it), for SFT and distillation. Only when `info().capabilities.supervised`.
   * Resolves once the endpoints serve the new policy; the response is the same as `train`'s.
   */
  supervise?(request: SuperviseRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse>;
  /** Saves the current policy (only when `info().capabilities.checkpoint`). */
  checkpoint(request?: CheckpointRequest): Promise<CheckpointResponse>;
  /** Serves a checkpoint's policy again (only when `info().capabilities.restore`). */
  restore?(request: RestoreRequest): Promise<RestoreResponse>;
  /** Releases what the backend holds (servers it started, connections). */
  close(): Promise<void>;
}
