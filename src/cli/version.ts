/**
 * The version `tracetrain --version` prints: read from tracetrain's own package.json, found by
 * walking up from this module — `dist/` in the installed package, `src/cli/` in the repository —
 * so it is never a second copy that could drift from the published one.
 */
import { readFileSync } from "node:fs";
import { TracetrainError } from "../types/index.js";

export function packageVersion(from: string = import.meta.url): string {
  return packageManifest(from).version;
}

/** What of tracetrain's own package.json the command uses: its version, and the ranges `tracetrain init` writes into a new project. */
export interface PackageManifest {
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
}

export function packageManifest(from: string = import.meta.url): PackageManifest {
  for (let dir = new URL("./", from); ; dir = new URL("../", dir)) {
    const manifest = readManifest(new URL("package.json", dir));
    if (manifest?.name === "tracetrain" && typeof manifest.version === "string") {
      return {
        version: manifest.version,
        dependencies: stringsOf(manifest.dependencies),
        peerDependencies: stringsOf(manifest.peerDependencies),
      };
    }
    if (dir.pathname === "/") break;
  }
  throw new TracetrainError("internal", "tracetrain's package.json was not found above the command's own module");
}

function stringsOf(value: unknown): Record<string, string> {
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((entry): entry is [string, string] => typeof entry[1] === "string"));
}

type RawManifest = Partial<Record<"name" | "version" | "dependencies" | "peerDependencies", unknown>>;

function readManifest(url: URL): RawManifest | undefined {
  let text: string;
  try {
    text = readFileSync(url, "utf8");
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === "object" && parsed !== null ? (parsed as RawManifest) : undefined;
}
