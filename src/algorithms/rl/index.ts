export { RL, type RLResult, type StepRecord, type Verdict } from "./rl.js";
export { type RLOptions, SamplingByModeSchema } from "./options.js";
export { type LengthPenalty, lengthPenaltyOf } from "./length-penalty.js";
export type { TrainingBackend } from "./training-backend.js";
export { HttpTrainingBackend } from "./http-backend.js";
export { serveTrainingBackend, type TrainingBackendServer } from "./backend-server.js";
export { JsonlExportBackend, type ExportManifest } from "./jsonl-export-backend.js";
export type { HttpTrainingBackendOptions, RouteTimeouts, ServeTrainingBackendOptions, JsonlExportBackendOptions } from "./backend-options.js";
export { ReferenceBackend, type ReferenceBackendOptions, type ReferenceState } from "./reference/index.js";
export { TrainChunkAssembler, SuperviseChunkAssembler, StepChunkAssembler, type StepRequest, type ChunkOutcome } from "./train-chunks.js";
export { sendStepInChunks, superviseInChunks, type ChunkedStep } from "./chunked-send.js";
// What SFT shares with RL: reading a round's rollouts, sending updates and following versions, the verdict.
export { collectRollouts, trainedTokensOf, type Collected, type KeptRollout } from "./batch.js";
export { PolicyUpdates, upstreamsOf } from "./policy-updates.js";
export { verdictOf } from "./verdict.js";
export { BackendError, BackendUnavailableError, BackendTimeoutError, BackendAuthError, BackendResponseError, BackendAbortedError, BackendUnsupportedError, type UnsupportedFeature } from "./backend-errors.js";
export {
  PROTOCOL as RL_PROTOCOL,
  protocolJsonSchemas,
  BackendInfoSchema,
  EndpointsResponseSchema,
  TrainResponseSchema,
  CheckpointResponseSchema,
  RestoreResponseSchema,
  type SuperviseRequest,
  type SuperviseSample,
  type SuperviseChatSample,
  type BackendInfo,
  type Endpoint,
  type EndpointsResponse,
  type TrainRequest,
  type TrainResponse,
  type TrainSample,
  type CheckpointRequest,
  type CheckpointResponse,
  type RestoreRequest,
  type RestoreResponse,
  type SamplingSettings,
  type Hyperparameters,
  type TrainChunk,
  type ParsedBackendInfo,
  type PolicyVersion,
  HyperparametersSchema,
  SuperviseChatSampleSchema,
  trainedTokenCount,
} from "./protocol.js";
