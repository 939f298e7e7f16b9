import type { BackendInfo, CheckpointRequest, CheckpointResponse, EndpointsResponse, TrainRequest, TrainResponse } from "./protocol.js";

/**
 * Where model weights are trained: a GPU trainer behind HTTP ({@link HttpTrainingBackend}), the
 * CPU {@link ReferenceBackend}, or an exporter. tracetrain only samples through its endpoints
 * (via the gateway) and sends it batches; it never touches weights itself.
 */
export interface TrainingBackend {
  info(): Promise<BackendInfo>;
  /** The OpenAI-compatible servers sampling from the current policy. */
  endpoints(): Promise<EndpointsResponse>;
  /** Applies one update. Resolves once the endpoints serve the new policy. */
  train(request: TrainRequest, options?: { signal?: AbortSignal }): Promise<TrainResponse>;
  /** Saves the current policy (only when `info().capabilities.checkpoint`). */
  checkpoint(request?: CheckpointRequest): Promise<CheckpointResponse>;
  /** Releases what the backend holds (servers it started, connections). */
  close(): Promise<void>;
}
