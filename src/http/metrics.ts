import type { StoreStats } from "../types/index.js";

const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

interface Histogram {
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * Request counts and latency histograms by route, in the Prometheus text format. Labels are route
 * *patterns*, never raw paths, so a hostile client cannot blow up the label set.
 */
export class RequestMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();

  constructor(private readonly prefix: string) {}

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

  /** The request counter and latency histogram, as lines. */
  lines(): string[] {
    const { prefix } = this;
    const lines: string[] = [];
    lines.push(`# HELP ${prefix}_requests_total HTTP requests by route, method and status.`, `# TYPE ${prefix}_requests_total counter`);
    for (const [labels, n] of this.requests) lines.push(`${prefix}_requests_total{${labels}} ${n}`);
    lines.push(`# HELP ${prefix}_request_duration_seconds HTTP request latency.`, `# TYPE ${prefix}_request_duration_seconds histogram`);
    for (const [labels, h] of this.latency) {
      BUCKETS.forEach((le, i) => lines.push(`${prefix}_request_duration_seconds_bucket{${labels},le="${le}"} ${h.buckets[i]}`));
      lines.push(`${prefix}_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`${prefix}_request_duration_seconds_sum{${labels}} ${h.sum}`, `${prefix}_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    return lines;
  }
}

/** One metric with its HELP and TYPE lines. */
export function metricLines(name: string, type: "counter" | "gauge", help: string, samples: Array<[labels: string, value: number]>): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, value]) => `${name}${labels ? `{${labels}}` : ""} ${value}`)];
}

/**
 * The store server's metrics (`GET /metrics`): requests by route, plus store gauges read at
 * scrape time.
 */
export class ServerMetrics {
  private readonly http = new RequestMetrics("tracetrain_http");
  spansIngested = 0;
  /** Spans an OTLP request carried that were not stored (no rollout ids, invalid, unknown attempt). */
  otlpSpansRejected = 0;

  observe(route: string, method: string, status: number, seconds: number): void {
    this.http.observe(route, method, status, seconds);
  }

  render(stats: StoreStats): string {
    const lines = this.http.lines();
    lines.push(...metricLines("tracetrain_rollouts", "gauge", "Rollouts by status.", (["queuing", "running", "requeuing", "succeeded", "failed", "cancelled"] as const).map((status) => [`status="${status}"`, stats.rollouts[status]])));
    lines.push(...metricLines("tracetrain_queue_depth", "gauge", "Rollouts waiting to be claimed.", [["", stats.queueDepth]]));
    lines.push(...metricLines("tracetrain_active_attempts", "gauge", "Attempts preparing or running.", [["", stats.attempts.active]]));
    lines.push(...metricLines("tracetrain_spans_ingested_total", "counter", "Spans stored through this server.", [["", this.spansIngested]]));
    lines.push(...metricLines("tracetrain_otlp_spans_rejected_total", "counter", "Spans in OTLP requests that were not stored.", [["", this.otlpSpansRejected]]));
    lines.push(...metricLines("tracetrain_spans_stored", "gauge", "Spans in the store.", [["", stats.spans]]));
    return `${lines.join("\n")}\n`;
  }
}
