/**
 * `tracetrain/rl`: reinforcement learning through a {@link TrainingBackend} — the HTTP protocol
 * (`docs/rl-backend-protocol.md`) with its client, server and JSON Schemas, a JSONL export backend,
 * and the CPU reference backend used by the demo and tests.
 *
 * @packageDocumentation
 */
export {
  RL,
  type RLOptions,
  type RLResult,
  type StepRecord,
  type Verdict,
  type TrainingBackend,
  HttpTrainingBackend,
  type HttpTrainingBackendOptions,
  type RouteTimeouts,
  serveTrainingBackend,
  type ServeTrainingBackendOptions,
  type TrainingBackendServer,
  JsonlExportBackend,
  type JsonlExportBackendOptions,
  type ExportManifest,
  ReferenceBackend,
  type ReferenceBackendOptions,
  type ReferenceState,
  BackendError,
  BackendUnavailableError,
  BackendTimeoutError,
  BackendAuthError,
  BackendResponseError,
  BackendAbortedError,
  RL_PROTOCOL,
  protocolJsonSchemas,
  type BackendInfo,
  type Endpoint,
  type EndpointsResponse,
  type TrainRequest,
  type TrainResponse,
  type TrainSample,
  type CheckpointRequest,
  type CheckpointResponse,
  type PolicyVersion,
} from "../algorithms/index.js";
