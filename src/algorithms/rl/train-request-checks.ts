/**
 * The checks a train or supervise request meets against the backend's own `info()` — the same on
 * both sides of the wire: `HttpTrainingBackend` runs them before uploading a batch,
 * `serveTrainingBackend` before its backend sees it, so a client that skips them still gets the
 * protocol's answer.
 */
import { ValidationError } from "../../types/index.js";
import type { ParsedBackendInfo, SuperviseRequest } from "./protocol.js";
import { BackendUnsupportedError } from "./backend-errors.js";
import type { StepRequest } from "./train-chunks.js";

/**
 * Refuses hyperparameter names outside `info.hyperparameters` (ValidationError naming
 * `hyperparameters.<name>` and listing the accepted ones) and a `chunk` to a backend without
 * `capabilities.chunked_train` (BackendUnsupportedError).
 */
export function checkTrainRequest(request: StepRequest, info: ParsedBackendInfo, route: string, url: string, what = "train request"): void {
  const accepted = new Set(info.hyperparameters);
  const unknown = Object.keys(request.hyperparameters ?? {}).filter((name) => !accepted.has(name));
  if (unknown.length > 0) {
    const listed = accepted.size === 0 ? "this backend accepts none (info.hyperparameters is empty)" : `this backend accepts ${[...accepted].join(", ")}`;
    throw new ValidationError(
      what,
      unknown.slice(0, 20).map((name) => ({ path: `hyperparameters.${name}`, message: `not a hyperparameter of this backend: ${listed}` })),
    );
  }
  if (request.chunk !== undefined && !info.capabilities.chunked_train) {
    throw new BackendUnsupportedError(route, "chunked_train", `${route}: the backend at ${url} does not take a step in chunks (info.capabilities.chunked_train is false): send it whole`);
  }
}

/**
 * A supervise request's checks: token `samples` need `capabilities.supervised`, `chat` samples
 * `capabilities.supervised_chat` (BackendUnsupportedError naming the one missing), then those of
 * {@link checkTrainRequest}.
 */
export function checkSuperviseRequest(request: SuperviseRequest, info: ParsedBackendInfo, route: string, url: string): void {
  if ((request.samples?.length ?? 0) > 0 && !info.capabilities.supervised) {
    throw new BackendUnsupportedError(route, "supervised", `${route}: the backend at ${url} takes no supervised steps on token samples (info.capabilities.supervised is false)`);
  }
  if ((request.chat?.length ?? 0) > 0 && !info.capabilities.supervised_chat) {
    throw new BackendUnsupportedError(route, "supervised_chat", `${route}: the backend at ${url} takes no supervised steps on chat samples (info.capabilities.supervised_chat is false)`);
  }
  checkTrainRequest(request, info, route, url, "supervise request");
}
