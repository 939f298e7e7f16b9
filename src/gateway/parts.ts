/**
 * What the gateway is made of, built once by `startGateway` from its parsed options and shared by
 * the request handler and the `Gateway` object: each part is one concern (see its module).
 */
import type { RequestMetrics } from "../http/index.js";
import type { AttemptDirectory } from "./attempts.js";
import type { Gate } from "./gate.js";
import type { ParsedGatewayOptions } from "./options.js";
import type { GatewayPolicy } from "./policy.js";
import type { CallRecorder } from "./recorder.js";
import type { SubstitutionDirectory } from "./substitutions.js";
import type { UpstreamClient } from "./upstream-request.js";
import type { UpstreamPool } from "./upstreams.js";

export interface GatewayCounters {
  requests: number;
  recorded: number;
  retries: number;
  upstreamFailures: number;
}

export interface GatewayParts {
  readonly options: ParsedGatewayOptions;
  /** The digest of `options.token`, computed once for constant-time comparisons. */
  readonly tokenCheck: Buffer | undefined;
  readonly client: UpstreamClient;
  readonly pool: UpstreamPool;
  readonly gate: Gate;
  readonly attempts: AttemptDirectory;
  readonly recorder: CallRecorder;
  /** The in-flight substitutions of each rollout's resources snapshot. */
  readonly substitutions: SubstitutionDirectory;
  readonly counters: GatewayCounters;
  /** Requests and latency by endpoint, for `/metrics`. */
  readonly http: RequestMetrics;
  /** The policy in force: `setPolicy` replaces it for calls from then on. */
  policy: GatewayPolicy;
}
