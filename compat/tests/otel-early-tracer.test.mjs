// The everyday OpenTelemetry pattern: a tracer obtained at module load, before tracetrain installs
// anything. Its spans inside a rollout must still be captured once instrument({ otel: true }) runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { trace } from "@opentelemetry/api";
import { Trainer, agent } from "tracetrain";

const appTracer = trace.getTracer("my-app");

test("a tracer from trace.getTracer() before instrument() is captured", async () => {
  const worker = agent(async (task) =>
    appTracer.startActiveSpan("lookup", (span) => {
      span.setAttribute("lookup.key", task.key);
      span.end();
      return 1;
    }), { name: "otel-early" });
  const trainer = new Trainer({ store: "memory", progress: false, instrument: { otel: true } });
  try {
    const [run] = await trainer.dev(worker, [{ key: "k-1" }]);
    if (run.error !== undefined) throw run.error;
    const lookup = run.spans.filter((s) => s.name === "lookup");
    assert.equal(lookup.length, 1, `one "lookup" span recorded (spans: ${run.spans.map((s) => s.name).join(", ")}; warnings: ${JSON.stringify(run.report.warnings)})`);
    assert.equal(lookup[0].attributes?.["lookup.key"], "k-1");
  } finally {
    await trainer.close();
  }
});
