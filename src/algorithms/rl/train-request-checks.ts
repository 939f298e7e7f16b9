/**
 * The checks a train request meets against the backend's own `info()` — the same on both sides of
 * the wire: `HttpTrainingBackend` runs them before uploading a batch, `serveTrainingBackend`
 * before its backend sees it, so a client that skips them still gets the protocol's answer.
 */
import { ValidationError } from "../../types/index.js";
import type { ParsedBackendInfo, TrainRequest } from "./protocol.js";
import { BackendUnsupportedError } from "./backend-errors.js";

/**
 * Refuses hyperparameter names outside `info.hyperparameters` (ValidationError naming
 * `hyperparameters.<name>` and listing the accepted ones) and a `chunk` to a backend without
 * `capabilities.chunked_train` (BackendUnsupportedError).
 */
export function checkTrainRequest(request: TrainRequest, info: ParsedBackendInfo, route: string, url: string): void {
  const accepted = new Set(info.hyperparameters);
  const unknown = Object.keys(request.hyperparameters ?? {}).filter((name) => !accepted.has(name));
  if (unknown.length > 0) {
    const listed = accepted.size === 0 ? "this backend accepts none (info.hyperparameters is empty)" : `this backend accepts ${[...accepted].join(", ")}`;
    throw new ValidationError(
      "train request",
      unknown.slice(0, 20).map((name) => ({ path: `hyperparameters.${name}`, message: `not a hyperparameter of this backend: ${listed}` })),
    );
  }
  if (request.chunk !== undefined && !info.capabilities.chunked_train) {
    throw new BackendUnsupportedError(route, "chunked_train", `${route}: the backend at ${url} does not take a step in chunks (info.capabilities.chunked_train is false): send it whole`);
  }
}
