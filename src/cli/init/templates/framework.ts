/** What differs between the frameworks `tracetrain init` scaffolds for. */
export interface FrameworkTemplate {
  /** As the README names it. */
  title: string;
  /** Packages the agent imports that are tracetrain peer dependencies: written with tracetrain's own peer range. */
  peerPackages: readonly string[];
  /** Packages the agent imports that tracetrain does not name, with the range tested (repository pins to the latest). */
  packages: Readonly<Record<string, string>>;
  /** agent.ts */
  agent: string;
  /** The README's paragraph on how tracetrain records this framework's calls. */
  capture: string;
}
