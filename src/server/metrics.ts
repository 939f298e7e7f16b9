import type { StoreStats } from "../types/index.js";

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Request metrics in the Prometheus text format (`GET /metrics`): counts and latency histograms by
 * route, plus store gauges read at scrape time. Labels are route *patterns*, never raw paths, so a
 * hostile client cannot blow up the label set.
 */
export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  spansIngested = 0;
  /** Spans an OTLP request carried that were not stored (no rollout ids, invalid, unknown attempt). */
  otlpSpansRejected = 0;

  observe(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${route}",method="${method}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hKey = `route="${route}",method="${method}"`;
    let h = this.latency.get(hKey);
    if (!h) this.latency.set(hKey, (h = { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
  }

  render(stats: StoreStats): string {
    const lines: string[] = [];
    lines.push("# HELP tracetrain_http_requests_total HTTP requests by route, method and status.", "# TYPE tracetrain_http_requests_total counter");
    for (const [labels, n] of this.requests) lines.push(`tracetrain_http_requests_total{${labels}} ${n}`);
    lines.push("# HELP tracetrain_http_request_duration_seconds HTTP request latency.", "# TYPE tracetrain_http_request_duration_seconds histogram");
    for (const [labels, h] of this.latency) {
      BUCKETS.forEach((le, i) => lines.push(`tracetrain_http_request_duration_seconds_bucket{${labels},le="${le}"} ${h.buckets[i]}`));
      lines.push(`tracetrain_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`tracetrain_http_request_duration_seconds_sum{${labels}} ${h.sum}`, `tracetrain_http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    lines.push("# HELP tracetrain_rollouts Rollouts by status.", "# TYPE tracetrain_rollouts gauge");
    for (const status of ["queuing", "running", "requeuing", "succeeded", "failed", "cancelled"] as const) {
      lines.push(`tracetrain_rollouts{status="${status}"} ${stats.rollouts[status]}`);
    }
    lines.push("# HELP tracetrain_queue_depth Rollouts waiting to be claimed.", "# TYPE tracetrain_queue_depth gauge", `tracetrain_queue_depth ${stats.queueDepth}`);
    lines.push("# HELP tracetrain_active_attempts Attempts preparing or running.", "# TYPE tracetrain_active_attempts gauge", `tracetrain_active_attempts ${stats.attempts.active}`);
    lines.push("# HELP tracetrain_spans_ingested_total Spans stored through this server.", "# TYPE tracetrain_spans_ingested_total counter", `tracetrain_spans_ingested_total ${this.spansIngested}`);
    lines.push("# HELP tracetrain_otlp_spans_rejected_total Spans in OTLP requests that were not stored.", "# TYPE tracetrain_otlp_spans_rejected_total counter", `tracetrain_otlp_spans_rejected_total ${this.otlpSpansRejected}`);
    lines.push("# HELP tracetrain_spans_stored Spans in the store.", "# TYPE tracetrain_spans_stored gauge", `tracetrain_spans_stored ${stats.spans}`);
    return `${lines.join("\n")}\n`;
  }
}
