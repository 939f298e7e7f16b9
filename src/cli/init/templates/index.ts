/** The project `tracetrain init` writes, file by file, for each framework. */
import { AI_SDK } from "./ai-sdk.js";
import { GITIGNORE, MAIN_TS, MOCK_MODEL_TS, TASKS_JSONL, TICKETS_TS, TSCONFIG_JSON } from "./common.js";
import type { FrameworkTemplate } from "./framework.js";
import { LANGCHAIN } from "./langchain.js";
import { OPENAI_AGENTS } from "./openai-agents.js";
import { OPENAI } from "./openai.js";
import { PLAIN } from "./plain.js";

export type { FrameworkTemplate } from "./framework.js";

export const FRAMEWORKS = { openai: OPENAI, "ai-sdk": AI_SDK, langchain: LANGCHAIN, "openai-agents": OPENAI_AGENTS, plain: PLAIN } as const satisfies Record<string, FrameworkTemplate>;
export type FrameworkName = keyof typeof FRAMEWORKS;
export const FRAMEWORK_NAMES = Object.keys(FRAMEWORKS) as FrameworkName[];

/** What of tracetrain's package.json the project's package.json takes its ranges from. */
export interface TracetrainManifest {
  version: string;
  dependencies: Readonly<Record<string, string>>;
  peerDependencies: Readonly<Record<string, string>>;
}

/** The project's own tools: to run main.ts (tsx) and to typecheck it (`npm run typecheck`). */
const DEV_DEPENDENCIES = { "@types/node": ">=20.19.0", tsx: "^4.23.15", typescript: "^5.9.3" };

export interface ProjectFile {
  path: string;
  text: string;
}

/** Every file of a new project named `name` for `framework`, in the order they are listed to the user. */
export function projectFiles(framework: FrameworkName, name: string, manifest: TracetrainManifest): ProjectFile[] {
  const template = FRAMEWORKS[framework];
  return [
    { path: "package.json", text: packageJson(template, name, manifest) },
    { path: "tsconfig.json", text: TSCONFIG_JSON },
    { path: ".gitignore", text: GITIGNORE },
    { path: "README.md", text: readme(framework, name) },
    { path: "agent.ts", text: template.agent },
    { path: "tickets.ts", text: TICKETS_TS },
    { path: "tasks.jsonl", text: TASKS_JSONL },
    { path: "mock-model.ts", text: MOCK_MODEL_TS },
    { path: "main.ts", text: MAIN_TS },
  ];
}

function packageJson(template: FrameworkTemplate, name: string, manifest: TracetrainManifest): string {
  // openai is the optimizer's client in main.ts whatever the agent uses; zod checks the tickets.
  const peers = ["openai", ...template.peerPackages].map((pkg) => [pkg, rangeOf(manifest.peerDependencies, pkg, "peerDependencies")] as const);
  const dependencies = sorted({ tracetrain: `^${manifest.version}`, zod: rangeOf(manifest.dependencies, "zod", "dependencies"), ...Object.fromEntries(peers), ...template.packages });
  const manifestOut = {
    // npm refuses to install a dependency that has the project's own name (a folder called openai).
    name: name in dependencies || name in DEV_DEPENDENCIES ? `${name}-project` : name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: { start: "tsx main.ts", typecheck: "tsc --noEmit" },
    dependencies,
    devDependencies: DEV_DEPENDENCIES,
    allowScripts: { esbuild: true },
  };
  return `${JSON.stringify(manifestOut, null, 2)}\n`;
}

function rangeOf(ranges: Readonly<Record<string, string>>, pkg: string, field: string): string {
  const range = ranges[pkg];
  // tracetrain's package.json is part of the package: a missing entry is a packaging bug, not the user's.
  if (range === undefined) throw new Error(`tracetrain's package.json names no ${pkg} in ${field}`);
  return range;
}

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

const DOCS = "https://github.com/tracetrain/tracetrain#";

function readme(framework: FrameworkName, name: string): string {
  const template = FRAMEWORKS[framework];
  return `# ${name}

A support-ticket router written with ${template.title}, wrapped for
[tracetrain](https://github.com/tracetrain/tracetrain) (created by \`tracetrain init --framework ${framework}\`).
\`npm start\` evaluates it on held-out tickets, lets APO (automatic prompt optimization) rewrite its
system prompt from the runs it failed, and prints a before/after table.

## Run it

\`\`\`sh
npm install
npm start                     # offline: simulated models (mock-model.ts), no key needed
npm start -- --rounds 4 --seed 1
OPENAI_BASE_URL=https://api.openai.com/v1 OPENAI_API_KEY=sk-… OPENAI_MODEL=gpt-4.1-mini npm start
\`\`\`

Any OpenAI-compatible endpoint works (vLLM, Ollama, a gateway); \`OPTIMIZER_MODEL\` names a
different model for APO's critiques and edits. Against a real endpoint the run stops at $1 of spend.
\`npm start -- --store sqlite:./.tracetrain/tracetrain.db\` keeps the run; look at it with
\`npx tracetrain dashboard --store .tracetrain/tracetrain.db\`.

Offline, the output ends like this (the simulated support model follows only the routing rules its
prompt states; the simulated optimizer reads the failed runs and states the rules they needed):

\`\`\`
                          accuracy on 8 held-out tickets
before: seed prompt       0.375
after: APO's best prompt  0.875 ± 0.296
gain (paired)             +0.500 ± 0.447
\`\`\`

## The files

| file | what it is |
|---|---|
| \`agent.ts\` | the agent, wrapped with \`agent()\`: it reads its prompt with \`ctx.prompt("system")\` and its model with \`ctx.llm()\`, and returns its reward |
| \`tickets.ts\` | the task type, the dataset loader and the reward |
| \`tasks.jsonl\` | 24 tickets with the team that should get each |
| \`main.ts\` | \`Trainer\`: \`evaluate\` on the held-out tickets, then \`fit\` with \`APO\`, then the table |
| \`mock-model.ts\` | the simulated models of the offline run (not used once \`OPENAI_BASE_URL\` is set) |

${template.capture}

## Next steps

- Put your own agent in \`agent.ts\`: keep the \`agent(async (task, ctx) => reward)\` wrapper, read
  the prompts you want optimized with \`ctx.prompt(name)\` (each one a \`prompt_template\` resource in
  \`main.ts\`) and the model with \`ctx.llm()\`. An agent whose prompts are constants can be optimized
  unchanged too (see [Agents that do not read ctx.prompt()](${DOCS}agents-that-do-not-read-ctxprompt)).
- Put your tasks in \`tasks.jsonl\` and score them in \`tickets.ts\`; \`npx tracetrain dataset check tasks.jsonl\`
  checks the file.
- Try GEPA instead of APO, reinforcement learning on the model, or training data export.

Read more: [Evaluate an agent](${DOCS}evaluate-an-agent),
[Optimizing prompts](${DOCS}optimizing-prompts), [Tracing your agent](${DOCS}tracing-your-agent),
[Reinforcement learning](${DOCS}reinforcement-learning).
`;
}
