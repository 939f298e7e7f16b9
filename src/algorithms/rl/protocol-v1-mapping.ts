/**
 * Exact translations between protocol versions 2 and 1, for `HttpTrainingBackend` speaking to a
 * `/1`-only backend and for `serveTrainingBackend` answering a `/1` client.
 *
 * The loss is what must survive translation. Version 2 defines it as Σ token_weight·ℓ over every
 * mask-1 token of the step. Version 1 gives a weight per sample and recommends the per-sample mean
 * Σ_s weight_s·mean_s(ℓ) / Σ_s weight_s. With weight_s = token_weight_s × T_s (T_s: the sample's
 * mask-1 tokens) the two are equal term by term — weight_s·mean_s = token_weight_s·Σ_s ℓ — and
 * Σ_s weight_s is the step's total token weight, 1. The other way, token_weight_s =
 * weight_s / (T_s × Σ weight) reproduces the /1 loss exactly in /2 terms.
 */
import { TracetrainError, ValidationError } from "../../types/index.js";
import type { Logger } from "../../types/index.js";
import { type BackendInfo, PROTOCOL, type SamplingSettings, type TrainRequest, type TrainResponse, type TrainSample, trainedTokenCount } from "./protocol.js";
import { type BackendInfoV1, PROTOCOL_V1, type TrainRequestV1, type TrainResponseV1, type TrainSampleV1 } from "./protocol-v1.js";
import { BackendUnsupportedError } from "./backend-errors.js";

/** True when `sampling` differs from what a /1 backend assumes (temperature 1, top_p 1, no top-k). */
export function isDefaultSampling(sampling: SamplingSettings | undefined): boolean {
  if (sampling === undefined) return true;
  const { temperature = 1, top_p = 1, top_k } = sampling;
  return temperature === 1 && top_p === 1 && (top_k === undefined || top_k === 0 || top_k === -1);
}

/**
 * A /2 train request as a /1 backend must receive it. Version 1 has no per-step hyperparameters
 * and no chunks: those are refused (BackendUnsupportedError) rather than silently dropped, because
 * the step would train differently from what the caller asked. Sampling settings cannot be sent
 * either; `warnSampling` is called once per request that carries non-default ones (the caller
 * decides how often to log it).
 */
export function trainRequestToV1(request: TrainRequest, route: string, warnSampling: () => void): TrainRequestV1 {
  if (request.hyperparameters !== undefined && Object.keys(request.hyperparameters).length > 0) {
    throw new BackendUnsupportedError(route, "hyperparameters", `${route}: the backend speaks ${PROTOCOL_V1}, which has no per-step hyperparameters (got ${Object.keys(request.hyperparameters).join(", ")})`);
  }
  if (request.chunk !== undefined) {
    throw new BackendUnsupportedError(route, "chunked_train", `${route}: the backend speaks ${PROTOCOL_V1}, which has no chunked steps: send the whole step in one request`);
  }
  if (request.samples.some((s) => !isDefaultSampling(s.sampling))) warnSampling();
  const samples = request.samples.filter((s) => trainedTokenCount(s.response_mask) > 0).map(sampleToV1);
  if (samples.length === 0) throw new ValidationError("train request", [{ path: "samples", message: "no sample has a mask-1 token: there is nothing to train on" }]);
  return { step: request.step, policy_version: request.policy_version, samples };
}

function sampleToV1(sample: TrainSample): TrainSampleV1 {
  const { token_weight, sampling: _sampling, ...rest } = sample;
  return { ...rest, weight: token_weight * trainedTokenCount(sample.response_mask) };
}

/** A /1 backend's train answer in /2 terms: a /1 step is never held as a chunk. */
export function trainResponseFromV1(response: TrainResponseV1): TrainResponse {
  return { ...response, pending: false };
}

/**
 * A /1 client's train request in /2 terms, each token weighted so that the /2 loss is the /1
 * per-sample-mean loss. A sample without a mask-1 token has no mean and no loss in /1: it is left
 * out (and not counted in Σ weight).
 */
export function trainRequestFromV1(request: TrainRequestV1): TrainRequest {
  const trained = request.samples.filter((s) => trainedTokenCount(s.response_mask) > 0);
  if (trained.length === 0) throw new ValidationError("train request", [{ path: "samples", message: "no sample has a mask-1 token: there is nothing to train on" }]);
  const total = trained.reduce((sum, s) => sum + s.weight, 0);
  const samples = trained.map(({ weight, ...rest }): TrainSample => ({ ...rest, token_weight: weight / (trainedTokenCount(rest.response_mask) * total) }));
  return { step: request.step, policy_version: request.policy_version, samples };
}

/** A /2 train answer for a /1 client (which knows nothing of `pending`). */
export function trainResponseToV1(response: TrainResponse): TrainResponseV1 {
  if (response.pending === true) throw new TracetrainError("internal", "the backend held a /1 step as a pending chunk, but /1 steps are never chunked");
  const { pending: _pending, ...rest } = response;
  return rest;
}

/** A /1 backend's info in /2 terms: every capability /1 lacks is off, and no hyperparameter is accepted. */
export function infoFromV1(info: BackendInfoV1): BackendInfo {
  const { protocol: _protocol, capabilities, ...rest } = info;
  return {
    ...rest,
    protocol: PROTOCOL,
    capabilities: { ...capabilities, logprobs_mode: "raw", restore: false, chunked_train: false, serves_while_training: false },
    hyperparameters: [],
  };
}

/** A /2 backend's info for a /1 client: the capabilities /1 knows. */
export function infoToV1(info: BackendInfo): BackendInfoV1 {
  const { token_ids, logprobs, checkpoint } = info.capabilities;
  return {
    protocol: PROTOCOL_V1,
    model: info.model,
    policy_version: info.policy_version,
    capabilities: { token_ids, logprobs, checkpoint },
    ...(info.name === undefined ? {} : { name: info.name }),
  };
}

/** The one warning a client logs when /1 cannot carry the sampling settings. */
export function samplingDroppedWarning(logger: Logger, url: string): () => void {
  let warned = false;
  return () => {
    if (warned) return;
    warned = true;
    logger.warn(
      `training backend ${url} speaks ${PROTOCOL_V1}, which cannot carry per-sample sampling settings: samples drawn at another temperature, top_p or top_k are sent without them, so the backend's importance ratios use the raw distribution (logged once)`,
      { url },
    );
  };
}
