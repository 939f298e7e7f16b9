/**
 * The version `tracetrain --version` prints: read from tracetrain's own package.json, found by
 * walking up from this module — `dist/` in the installed package, `src/cli/` in the repository —
 * so it is never a second copy that could drift from the published one.
 */
import { readFileSync } from "node:fs";
import { TracetrainError } from "../types/index.js";

export function packageVersion(from: string = import.meta.url): string {
  for (let dir = new URL("./", from); ; dir = new URL("../", dir)) {
    const manifest = readManifest(new URL("package.json", dir));
    if (manifest?.name === "tracetrain" && typeof manifest.version === "string") return manifest.version;
    if (dir.pathname === "/") break;
  }
  throw new TracetrainError("internal", "tracetrain's package.json was not found above the command's own module");
}

function readManifest(url: URL): { name?: unknown; version?: unknown } | undefined {
  let text: string;
  try {
    text = readFileSync(url, "utf8");
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === "object" && parsed !== null ? (parsed as { name?: unknown; version?: unknown }) : undefined;
}
