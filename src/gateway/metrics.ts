/** The gateway's `/metrics`, in the Prometheus text format. */
import { metricLines } from "../http/index.js";
import type { GatewayParts } from "./parts.js";

/** Requests and latency by endpoint, what was recorded and retried, the gate, the upstreams, the policy. */
export function renderMetrics(parts: GatewayParts): string {
  const { http, counters, gate, pool } = parts;
  const version = parts.policy.policyVersion;
  return `${[
    ...http.lines(),
    ...metricLines("tracetrain_gateway_calls_recorded_total", "counter", "LLM calls recorded as spans.", [["", counters.recorded]]),
    ...metricLines("tracetrain_gateway_upstream_retries_total", "counter", "Retries of upstream requests.", [["", counters.retries]]),
    ...metricLines("tracetrain_gateway_upstream_failures_total", "counter", "Requests no upstream answered.", [["", counters.upstreamFailures]]),
    ...metricLines("tracetrain_gateway_in_flight", "gauge", "Calls being forwarded now.", [["", gate.active]]),
    ...metricLines("tracetrain_gateway_waiting", "gauge", "Calls held by a pause, waiting for a resume.", [["", gate.held]]),
    ...metricLines("tracetrain_gateway_paused", "gauge", "1 while paused (calls wait or are turned away).", [["", gate.isPaused ? 1 : 0]]),
    ...metricLines("tracetrain_gateway_upstreams", "gauge", "Upstreams in the pool.", [["", pool.list().length]]),
    ...(version === undefined ? [] : metricLines("tracetrain_gateway_policy_info", "gauge", "The policy version stamped on calls.", [[`version="${String(version).replace(/["\\\n]/g, "_")}"`, 1]])),
  ].join("\n")}\n`;
}
