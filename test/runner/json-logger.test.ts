import { describe, expect, it } from "vitest";
import { jsonLogger } from "tracetrain";

describe("jsonLogger", () => {
  it("writes one JSON object per line, honours the level and serializes errors", () => {
    const lines: string[] = [];
    const logger = jsonLogger({ level: "warn", write: (line) => lines.push(line) });
    logger.info("dropped");
    logger.warn("disk slow", { ms: 12 });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    logger.error("failed", { error: new TypeError("bad"), circular });
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
    const [warn, error] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(warn).toMatchObject({ level: "warn", message: "disk slow", ms: 12 });
    expect(typeof warn!.time).toBe("string");
    expect(error).toMatchObject({ level: "error", message: "failed", context: "[not serializable]" });
  });
});
