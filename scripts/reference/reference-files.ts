/** The generated reference files, by their path from the repository root, and their text. */
import { cliReference } from "./cli-reference.js";
import { optionsReference } from "./options-reference.js";

export async function referenceFiles(): Promise<Record<string, string>> {
  return { "docs/reference/options.md": await optionsReference(), "docs/reference/cli.md": cliReference() };
}
