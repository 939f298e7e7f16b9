/**
 * Store server options are one zod schema: every bad value is a ValidationError naming its field,
 * unknown keys are refused, a non-loopback bind still needs a token or `insecure`, and nothing is
 * bound when the options are bad.
 */
import { afterAll, describe, expect, it } from "vitest";
import { ValidationError } from "tracetrain";
import { MemoryStore } from "tracetrain/store";
import { createOtlpIngestRoute, serveStore, startStoreServer } from "tracetrain/server";
import { rejectedWith } from "../support/validation.js";

const store = new MemoryStore();
afterAll(() => store.close());

const fields = (error: ValidationError) => [...new Set(error.issues.map((i) => i.path.replace(/\[\d+\]$/, "")))];

describe("store server options", () => {
  const hostile: Array<[field: string, value: unknown]> = [
    ["store", undefined],
    ["store", "sqlite:./x.db"],
    ["store", { getRollout() {} }],
    ["host", ""],
    ["host", 127001],
    ["port", -1],
    ["port", 65536],
    ["port", 80.5],
    ["port", "4747"],
    ["token", ""],
    ["insecure", "yes"],
    ["bodyLimitBytes", 0],
    ["bodyLimitBytes", Number.POSITIVE_INFINITY],
    ["closeStore", 1],
    ["extraRoutes", { method: "GET", path: "/x", handle() {} }],
    ["extraRoutes", [{ method: "GET", path: "/x" }]],
    ["logger", { error() {} }],
  ];
  it.each(hostile)("rejects a bad %s (%j) with a ValidationError naming it, from both entry points", async (field, value) => {
    for (const start of [startStoreServer, serveStore]) {
      const error = await rejectedWith(start({ store, port: 0, [field]: value } as never));
      expect(fields(error)).toEqual([field]);
      expect(error.message).toMatch(new RegExp(`^invalid server options: ${field}`));
    }
  });

  it("rejects an unknown key", async () => {
    const error = await rejectedWith(startStoreServer({ store, port: 0, bodyLimit: 1024 } as never));
    expect(error.message).toMatch(/Unrecognized key: "bodyLimit"/);
  });

  it("still refuses a non-loopback host without a token or insecure, naming host", async () => {
    const error = await rejectedWith(startStoreServer({ store, host: "0.0.0.0", port: 0 }));
    expect(error.issues.map((i) => i.path)).toEqual(["host"]);
    const withToken = await startStoreServer({ store, host: "0.0.0.0", port: 0, token: "s3cret" });
    await withToken.close();
  });

  it("the OTLP ingest route checks its options too", () => {
    for (const value of [0, -1, 1.5, "1mb"]) {
      expect(() => createOtlpIngestRoute(store, { maxDecompressedBytes: value } as never)).toThrow(/invalid OTLP ingest options: maxDecompressedBytes/);
    }
    expect(() => createOtlpIngestRoute(store, { maxBytes: 1 } as never)).toThrow(ValidationError);
    expect(createOtlpIngestRoute(store, { maxDecompressedBytes: 1024 }).path).toBe("/v1/traces");
  });
});
