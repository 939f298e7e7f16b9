/** What `startGateway` accepts: one schema, its defaults, and errors that name the field. */
import { describe, expect, it } from "vitest";
import { ValidationError } from "tracetrain";
import { GatewayOptionsSchema, startGateway } from "tracetrain/gateway";
import { MemoryStore } from "tracetrain/store";
import { isLoopback } from "../../src/http/index.js";
import { quiet } from "./helpers.js";

const store = new MemoryStore({ watchdogIntervalMs: false });
const upstreams = [{ url: "http://127.0.0.1:1/v1" }];

/** The first issue's path of the ValidationError `start` rejects with. */
async function rejectedPath(options: Record<string, unknown>): Promise<string | undefined> {
  const error: unknown = await startGateway({ store, upstreams, port: 0, probe: false, logger: quiet, ...options } as never).then(
    async (gateway) => {
      await gateway.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return (error as ValidationError).issues[0]?.path;
}

describe("gateway options", () => {
  it("fills in every default, keeping the store and logger given", () => {
    const parsed = GatewayOptionsSchema.parse({ store, upstreams, logger: quiet });
    expect(parsed.store).toBe(store);
    expect(parsed.logger).toBe(quiet);
    const { store: _store, logger: _logger, ...rest } = parsed;
    expect(rest).toEqual({
      upstreams,
      host: "127.0.0.1",
      port: 4748,
      insecure: false,
      recordUnscoped: false,
      captureTokens: "train",
      stripCaptured: true,
      answerWhenStored: true,
      whilePaused: "wait",
      pauseRetryAfterSeconds: 1,
      policy: {},
      retry: { tries: 3, baseDelayMs: 100, maxDelayMs: 2000 },
      bodyLimitBytes: 32 * 1024 * 1024,
      upstreamTimeoutMs: 600_000,
      probe: true,
      attemptCacheMs: 2000,
    });
    expect(GatewayOptionsSchema.parse({ store, upstreams, retry: { tries: 5 } }).retry).toEqual({ tries: 5, baseDelayMs: 100, maxDelayMs: 2000 });
  });

  it("rejects bad options with a ValidationError naming the field, before listening", async () => {
    expect(await rejectedPath({ retry: { tries: 0 } })).toBe("retry.tries");
    expect(await rejectedPath({ port: 70_000 })).toBe("port");
    expect(await rejectedPath({ captureTokens: "sometimes" })).toBe("captureTokens");
    expect(await rejectedPath({ upstreams: [] })).toBe("upstreams");
    expect(await rejectedPath({ upstreams: [{ url: "ftp://x/v1" }] })).toBe("upstreams[0].url");
    expect(await rejectedPath({ policy: { sampling: { train: { stream: true } } } })).toBe("policy.sampling.train.stream");
    expect(await rejectedPath({ token: "" })).toBe("token");
    await expect(startGateway({ store, upstreams, port: 0, probe: false, recordUnscopd: true } as never)).rejects.toThrow(/invalid gateway options: .*recordUnscopd/);
  });

  it("checks the store and the logger by their shape", async () => {
    expect(await rejectedPath({ store: { getRollout() {} } })).toBe("store");
    expect(await rejectedPath({ logger: console.log })).toBe("logger");
    const { store: _store, ...withoutStore } = { store, upstreams };
    expect(GatewayOptionsSchema.safeParse(withoutStore).success).toBe(false);
  });

  it("names duplicate upstreams", async () => {
    await expect(startGateway({ store, upstreams: [{ url: "http://a/v1" }, { url: "http://a/v1" }], port: 0, probe: false, logger: quiet })).rejects.toThrow(/duplicate upstream name 'a'/);
  });
});

describe("what counts as loopback", () => {
  it("is an address of this machine or localhost, parsed, never a name that looks like one", () => {
    for (const host of ["127.0.0.1", "127.4.5.6", "127.255.255.255", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f00:1", "localhost", "LocalHost"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["127.example.com", "127.0.0.1.nip.io", "127.1", "128.0.0.1", "0.0.0.0", "::", "::ffff:10.0.0.1", "10.0.0.1", "localhost.example.com", "example.com"]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });
});
