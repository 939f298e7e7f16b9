/**
 * docs/reference/options.md, written from the declarations of every public options object: the
 * zod schemas (their input type, as `z.input` gives it to users) and the few options interfaces.
 * Field names, types and whether a field is required come from the TypeScript checker; each
 * field's description and `@default` from the JSDoc written on the schema's field; a default the
 * JSDoc does not state from the schema at run time. A field without a description is an error, so
 * a new option cannot reach the reference undocumented.
 */
import { resolve } from "node:path";
import ts from "typescript";

export const ROOT = resolve(import.meta.dirname, "../..");

/** One options object of the public API. */
interface Entry {
  /** What a user calls with it. */
  call: string;
  /** Where the user imports the call from. */
  from: string;
  /** The module (from the repository root) that exports the declaration. */
  module: string;
  /** A zod schema (documented as its input type) or a TypeScript interface. */
  declaration: { schema: string } | { type: string };
  /** Said before the table, when the call needs a word of context. */
  note?: string;
  /** Object fields whose own fields are not listed (a saved state, say: made by the library, not written by hand). */
  opaque?: readonly string[];
}

interface Section {
  title: string;
  entries: Entry[];
}

export const SECTIONS: Section[] = [
  {
    title: "Agents and tracing",
    entries: [
      { call: "agent(fn, options)", from: "tracetrain", module: "src/runner/agent.ts", declaration: { schema: "AgentOptionsSchema" } },
      { call: "emitReward(value, options)", from: "tracetrain", module: "src/types/reward-record.ts", declaration: { type: "RewardOptions" } },
      { call: "new Tracer(options)", from: "tracetrain", module: "src/tracer/options.ts", declaration: { schema: "TracerOptionsSchema" } },
      { call: "tracer.trace(fn, options) / tracer.capture(fn, options)", from: "tracetrain", module: "src/tracer/options.ts", declaration: { schema: "TraceOptionsSchema" } },
      {
        call: "tracer.instrument(options)",
        from: "tracetrain",
        module: "src/tracer/options.ts",
        declaration: { schema: "InstrumentOptionsSchema" },
        note: "Also the `instrument` option of `new Trainer`.",
      },
      { call: "createOtlpSink(options)", from: "tracetrain/otel", module: "src/tracer/otlp-options.ts", declaration: { schema: "OtlpSinkOptionsSchema" } },
      { call: "teeSinks(sinks, options)", from: "tracetrain/otel", module: "src/tracer/otlp-options.ts", declaration: { schema: "TeeOptionsSchema" } },
    ],
  },
  {
    title: "Training and evaluation",
    entries: [
      { call: "new Trainer(options)", from: "tracetrain", module: "src/trainer/options.ts", declaration: { schema: "TrainerOptionsSchema" } },
      { call: "new Runner(options)", from: "tracetrain", module: "src/runner/options.ts", declaration: { schema: "RunnerOptionsSchema" } },
      { call: "loadDataset(path, options)", from: "tracetrain", module: "src/util/dataset.ts", declaration: { schema: "DatasetOptionsSchema" } },
      { call: "evaluate(options)", from: "tracetrain", module: "src/algorithms/evaluate.ts", declaration: { schema: "EvaluateOptionsSchema" } },
      { call: "new APO(options)", from: "tracetrain", module: "src/algorithms/apo/options.ts", declaration: { schema: "APOOptionsSchema" } },
      { call: "new GEPA(options)", from: "tracetrain", module: "src/algorithms/gepa/options.ts", declaration: { schema: "GEPAOptionsSchema" } },
      { call: "new RL(options)", from: "tracetrain", module: "src/algorithms/rl/options.ts", declaration: { schema: "RLOptionsSchema" } },
    ],
  },
  {
    title: "Training data",
    entries: [
      {
        call: "new TraceAdapter(options)",
        from: "tracetrain",
        module: "src/adapters/trace-adapter.ts",
        declaration: { type: "TraceAdapterOptions" },
        note: "Also the `adapter` option of `new Trainer`; `tracetrain export` sets `credit`, `chat` (--per), `maxLength` and `agents` from its flags.",
      },
      { call: "filterForExport(items, filter)", from: "tracetrain/adapters", module: "src/adapters/export-formats.ts", declaration: { type: "ExportFilter" } },
      { call: "toolPolicy(options)", from: "tracetrain/adapters", module: "src/adapters/behaviour/tool-policy.ts", declaration: { schema: "ToolPolicyOptionsSchema" }, note: "A behaviour detector: see [Behaviour detectors](../behaviour-detectors.md#toolpolicy)." },
      { call: "injection(options)", from: "tracetrain/adapters", module: "src/adapters/behaviour/injection.ts", declaration: { schema: "InjectionOptionsSchema" } },
      { call: "secrets(options)", from: "tracetrain/adapters", module: "src/adapters/behaviour/secrets.ts", declaration: { schema: "SecretsOptionsSchema" }, opaque: ["severities"] },
      { call: "rewardHacking(options)", from: "tracetrain/adapters", module: "src/adapters/behaviour/reward-hacking.ts", declaration: { schema: "RewardHackingOptionsSchema" } },
    ],
  },
  {
    title: "Behaviour filter",
    entries: [
      {
        call: "new BehaviourFilter(options)",
        from: "tracetrain",
        module: "src/adapters/behaviour/filter.ts",
        declaration: { schema: "BehaviourFilterOptionsSchema" },
        note: "The `behaviour` option of `new Trainer`; see docs/behaviour-filter.md.",
      },
      { call: "behaviourHooks(filter, options)", from: "tracetrain", module: "src/trainer/behaviour-hooks.ts", declaration: { schema: "BehaviourHooksOptionsSchema" } },
    ],
  },
  {
    title: "Stores and servers",
    entries: [
      {
        call: 'createStore(url, options)',
        from: "tracetrain",
        module: "src/store/create-store.ts",
        declaration: { schema: "CreateStoreOptionsSchema" },
        note: "The options of every backend below; those of the backends the URL does not name are ignored.",
      },
      { call: "new MemoryStore(options)", from: "tracetrain/store", module: "src/store/options.ts", declaration: { schema: "StoreOptionsSchema" } },
      { call: "new SqliteStore(path, options)", from: "tracetrain/store", module: "src/store/sqlite/options.ts", declaration: { schema: "SqliteStoreOptionsSchema" } },
      { call: "new PostgresStore(url, options)", from: "tracetrain/postgres", module: "src/store/postgres/options.ts", declaration: { schema: "PostgresStoreOptionsSchema" } },
      { call: "new HttpStore(url, options)", from: "tracetrain/store", module: "src/store/http/options.ts", declaration: { schema: "HttpStoreOptionsSchema" } },
      { call: "startStoreServer(options)", from: "tracetrain/server", module: "src/server/options.ts", declaration: { schema: "StoreServerOptionsSchema" } },
      { call: "createOtlpIngestRoute(options)", from: "tracetrain/server", module: "src/server/options.ts", declaration: { schema: "OtlpIngestOptionsSchema" } },
      { call: "startGateway(options)", from: "tracetrain/gateway", module: "src/gateway/options.ts", declaration: { schema: "GatewayOptionsSchema" } },
    ],
  },
  {
    title: "Reinforcement learning backends",
    entries: [
      { call: "new HttpTrainingBackend(options)", from: "tracetrain/rl", module: "src/algorithms/rl/backend-options.ts", declaration: { schema: "HttpTrainingBackendOptionsSchema" } },
      { call: "serveTrainingBackend(backend, options)", from: "tracetrain/rl", module: "src/algorithms/rl/backend-options.ts", declaration: { schema: "ServeTrainingBackendOptionsSchema" } },
      { call: "new JsonlExportBackend(options)", from: "tracetrain/rl", module: "src/algorithms/rl/backend-options.ts", declaration: { schema: "JsonlExportBackendOptionsSchema" } },
      { call: "ReferenceBackend.start(options)", from: "tracetrain/rl", module: "src/algorithms/rl/reference/reference-backend.ts", declaration: { schema: "ReferenceBackendOptionsSchema" }, opaque: ["restore"] },
    ],
  },
  {
    title: "Testing",
    entries: [{ call: "startMockLlm(options)", from: "tracetrain/testing", module: "src/testing/mock-llm.ts", declaration: { type: "MockLlmOptions" } }],
  },
];

/** One row of a table: a field, or a field of a field (`evaluation.strategy`, `upstreams[].url`). */
export interface Row {
  field: string;
  type: string;
  required: boolean;
  default: string | undefined;
  description: string;
}

const aliasOf = (i: number) => `Entry${i}`;

/** A program holding one extra file that names every entry's options type. */
function typesOf(entries: Entry[]): { checker: ts.TypeChecker; types: ts.Type[] } {
  const file = resolve(ROOT, "__options_reference__.ts");
  const text = [
    'import type { z } from "zod";',
    ...entries.map((entry, i) => {
      const name = "schema" in entry.declaration ? entry.declaration.schema : entry.declaration.type;
      const path = `./${entry.module.replace(/\.ts$/, ".js")}`;
      return "schema" in entry.declaration
        ? `import type { ${name} as S${i} } from "${path}";\nexport type ${aliasOf(i)} = z.input<typeof S${i}>;`
        : `import type { ${name} as S${i} } from "${path}";\nexport type ${aliasOf(i)} = S${i};`;
    }),
  ].join("\n");
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    exactOptionalPropertyTypes: false,
    skipLibCheck: true,
    noEmit: true,
    types: ["node"],
    // No DOM: the library's types never need it, and it is the largest file a program would parse.
    lib: ["lib.es2023.d.ts"],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) => (name === file ? ts.createSourceFile(name, text, language) : getSourceFile(name, language, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const problems = ts.getPreEmitDiagnostics(program, source);
  if (problems.length > 0) throw new Error(`options reference: ${problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("; ")}`);
  const aliases = source.statements.filter(ts.isTypeAliasDeclaration);
  return { checker, types: aliases.map((alias) => checker.getTypeAtLocation(alias.name)) };
}

/** `{@link X}` and `{@link X text}` as code. */
function plain(text: string): string {
  return text
    .replace(/\{@link\s+([^\s}]+)(?:\s+([^}]*))?\}/g, (_, target: string, label: string | undefined) => `\`${label ?? target}\``)
    .replace(/\s+/g, " ")
    .trim();
}

const ZOD_INTERNAL_ALIAS = /^\$|^(Flatten|Prettify|Record|Partial|Readonly|Omit|Pick)$/;

/** An object type with no name a user would know: a zod-inferred shape or an inline literal. */
function isAnonymousObject(type: ts.Type): boolean {
  if (!(type.flags & ts.TypeFlags.Object)) return false;
  if (type.aliasSymbol !== undefined && !ZOD_INTERNAL_ALIAS.test(type.aliasSymbol.name)) return false;
  const symbol = type.getSymbol();
  const anonymous = symbol === undefined || symbol.name === "__type" || symbol.name === "__object";
  return anonymous && type.getCallSignatures().length === 0;
}

function withoutUndefined(type: ts.Type): ts.Type[] {
  const members = type.isUnion() ? type.types : [type];
  return members.filter((t) => !(t.flags & (ts.TypeFlags.Undefined | ts.TypeFlags.Void)));
}

class TypePrinter {
  constructor(private readonly checker: ts.TypeChecker) {}

  /** The type of a field; `undefined` is left out (the Default column says what leaving it out does), unless `keepUndefined`. */
  print(type: ts.Type, keepUndefined = false): string {
    const members = keepUndefined ? (type.isUnion() ? type.types : [type]) : withoutUndefined(type);
    const booleans = members.filter((t) => t.flags & ts.TypeFlags.BooleanLiteral);
    const rest = members.filter((t) => !(t.flags & ts.TypeFlags.BooleanLiteral));
    const parts = [...(booleans.length === 2 ? ["boolean"] : booleans.map((t) => this.checker.typeToString(t))), ...rest.map((t) => this.one(t))];
    return [...new Set(parts)].join(" | ");
  }

  private one(type: ts.Type): string {
    if (type.aliasSymbol !== undefined && !ZOD_INTERNAL_ALIAS.test(type.aliasSymbol.name)) return this.checker.typeToString(type, undefined, ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope);
    const [signature, ...more] = type.getCallSignatures();
    if (signature !== undefined && more.length === 0 && type.getProperties().length === 0) return this.signature(signature);
    if (this.checker.isArrayType(type)) {
      const element = this.print(this.checker.getTypeArguments(type as ts.TypeReference)[0]!);
      return element.includes(" ") ? `(${element})[]` : `${element}[]`;
    }
    if (isAnonymousObject(type)) {
      const index = this.checker.getIndexInfosOfType(type)[0];
      if (index !== undefined && type.getProperties().length === 0) return `Record<string, ${this.print(index.type)}>`;
      const kind = type.getProperty("kind");
      if (kind !== undefined) {
        const tag = this.checker.getTypeOfSymbol(kind);
        if (tag.isStringLiteral()) return `{ kind: "${tag.value}", … }`;
      }
      return "object";
    }
    const target = (type as ts.TypeReference).target;
    const generic = type.flags & ts.TypeFlags.Object && target !== undefined && target !== type ? this.checker.getTypeArguments(type as ts.TypeReference) : [];
    if (generic.length > 0 && type.getSymbol() !== undefined) return `${type.getSymbol()!.name}<${generic.map((t) => this.print(t)).join(", ")}>`;
    return this.checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope);
  }

  /** `(ids: object) => string | undefined`: parameters and result printed as fields are. */
  private signature(signature: ts.Signature): string {
    const parameters = signature.getParameters().map((p) => `${p.name}: ${this.print(this.checker.getTypeOfSymbol(p))}`);
    return `(${parameters.join(", ")}) => ${this.print(signature.getReturnType(), true)}`;
  }
}

/** The one object shape nested rows are written for: a field that is (or may be) one object, or an array of them. */
function nestedShape(checker: ts.TypeChecker, type: ts.Type): { shape: ts.Type; suffix: string } | undefined {
  const members = withoutUndefined(type);
  const objects = members.filter(isAnonymousObject).filter((t) => t.getProperties().length > 0 && t.getProperty("kind") === undefined);
  if (objects.length === 1) return { shape: objects[0]!, suffix: "." };
  const arrays = members.filter((t) => checker.isArrayType(t)).map((t) => checker.getTypeArguments(t as ts.TypeReference)[0]!);
  const elements = arrays.flatMap((t) => withoutUndefined(t)).filter(isAnonymousObject).filter((t) => t.getProperties().length > 0 && t.getProperty("kind") === undefined);
  return elements.length === 1 ? { shape: elements[0]!, suffix: "[]." } : undefined;
}

/** A default the description states in words: "(default 256)", "Default: none." */
function statedInText(description: string): string | undefined {
  const match = /\(default:? ([^()]*(?:\([^()]*\)[^()]*)*)\)|(?:^|\. )Default:? (.+?)\.(?:\s|$)/.exec(description);
  return match === null ? undefined : (match[1] ?? match[2])!.trim();
}

/** What zod would fill in for `path` when it is left out, if it is plain data. */
function runtimeDefault(schema: unknown, path: readonly string[]): string | undefined {
  let current = schema;
  for (const [i, key] of path.entries()) {
    current = unwrap(current, false);
    const shape = (current as { shape?: Record<string, unknown> } | undefined)?.shape;
    if (shape === undefined) return undefined;
    current = shape[key];
    if (i < path.length - 1) current = unwrap(current, true);
  }
  const def = (current as { def?: { type?: string; defaultValue?: unknown } } | undefined)?.def;
  if (def?.type !== "default" && def?.type !== "prefault") return undefined;
  const value = def.defaultValue;
  return isPlainData(value) ? JSON.stringify(value) : undefined;
}

/** The schema inside optional/default/nullable wrappers (and, with `elements`, inside an array). */
function unwrap(schema: unknown, elements: boolean): unknown {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = (current as { def?: { type?: string; innerType?: unknown; element?: unknown } } | undefined)?.def;
    if (def?.innerType !== undefined) current = def.innerType;
    else if (elements && def?.type === "array") current = def.element;
    else return current;
  }
  return current;
}

function isPlainData(value: unknown): boolean {
  if (value === null || ["string", "number", "boolean"].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isPlainData);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value as object).every(isPlainData);
  return false;
}

function rowsOf(checker: ts.TypeChecker, type: ts.Type, schema: unknown, opaque: readonly string[], prefix = "", path: readonly string[] = []): Row[] {
  const printer = new TypePrinter(checker);
  return checker.getPropertiesOfType(type).flatMap((property) => {
    const propertyType = checker.getTypeOfSymbol(property);
    const description = plain(ts.displayPartsToString(property.getDocumentationComment(checker)));
    const tag = property.getJsDocTags(checker).find((t) => t.name === "default");
    const stated = tag === undefined ? statedInText(description) : plain(ts.displayPartsToString(tag.text));
    const fieldPath = [...path, property.name];
    // A default that only names a constant is shown as the constant's value.
    const fromSchema = runtimeDefault(schema, fieldPath);
    const row: Row = {
      field: `${prefix}${property.name}`,
      type: printer.print(propertyType),
      required: !(property.flags & ts.SymbolFlags.Optional),
      default: stated !== undefined && !/^`[A-Z_]+`$/.test(stated) ? stated : (fromSchema ?? stated),
      description,
    };
    const nested = opaque.includes(row.field) ? undefined : nestedShape(checker, propertyType);
    const inner = nested === undefined || path.length >= 2 ? [] : rowsOf(checker, nested.shape, schema, opaque, `${row.field}${nested.suffix}`, nested.suffix === "." ? fieldPath : []);
    return [row, ...inner];
  });
}

/** Every entry's rows, in the order of {@link SECTIONS}. */
export async function optionsRows(): Promise<Array<{ section: string; entry: Entry; rows: Row[] }>> {
  const entries = SECTIONS.flatMap((section) => section.entries.map((entry) => ({ section: section.title, entry })));
  const { checker, types } = typesOf(entries.map((e) => e.entry));
  const result = [];
  for (const [i, { section, entry }] of entries.entries()) {
    const schema = "schema" in entry.declaration ? ((await import(resolve(ROOT, entry.module))) as Record<string, unknown>)[entry.declaration.schema] : undefined;
    if ("schema" in entry.declaration && schema === undefined) throw new Error(`options reference: ${entry.module} exports no ${entry.declaration.schema}`);
    result.push({ section, entry, rows: rowsOf(checker, types[i]!, schema, entry.opaque ?? []) });
  }
  const undocumented = result.flatMap(({ entry, rows }) => rows.filter((row) => row.description === "").map((row) => `${entry.call}: ${row.field}`));
  if (undocumented.length > 0) throw new Error(`options reference: these fields have no description (write a JSDoc comment on the schema field): ${undocumented.join(", ")}`);
  return result;
}

function cell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

function defaultCell(row: Row): string {
  if (row.required) return "required";
  if (row.default === undefined) return "—";
  return /^[-\d.e]+$|^"[^"]*"$|^true$|^false$|^\[.*\]$|^\{.*\}$|^null$/.test(row.default) ? `\`${cell(row.default)}\`` : cell(row.default);
}

/** The whole of docs/reference/options.md. */
export async function optionsReference(): Promise<string> {
  const all = await optionsRows();
  const lines = [
    "# Options reference",
    "",
    "<!-- Generated by `npm run docs:reference` (scripts/gen-reference.ts) from the zod schemas and option types in src/. Do not edit: change the JSDoc of the field and regenerate. -->",
    "",
    "Every options object of the public API: each field's type, its default and what it does. The",
    "zod-validated ones reject an unknown field or a wrong value with a `ValidationError` naming it.",
    "Types are what TypeScript accepts; \"required\" fields have no default.",
    "",
  ];
  for (const section of SECTIONS) {
    lines.push(`- ${section.title}: ${section.entries.map((entry) => `[\`${entry.call}\`](#${anchorOf(entry.call)})`).join(", ")}`);
  }
  let current = "";
  for (const { section, entry, rows } of all) {
    if (section !== current) lines.push("", `## ${section}`);
    current = section;
    const name = "schema" in entry.declaration ? `\`${entry.declaration.schema}\` (zod)` : `\`${entry.declaration.type}\` (TypeScript)`;
    lines.push("", `### ${entry.call}`, "", `\`import { ${importedName(entry.call)} } from "${entry.from}"\` — declared by ${name} in \`${entry.module}\`.`);
    if (entry.note !== undefined) lines.push("", entry.note);
    lines.push("", "| Field | Type | Default | Description |", "| --- | --- | --- | --- |");
    for (const row of rows) lines.push(`| \`${row.field}\` | \`${cell(row.type)}\` | ${defaultCell(row)} | ${cell(row.description)} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** `new Trainer(options)` → `Trainer`, `tracer.trace(…)` → `Tracer`. */
function importedName(call: string): string {
  const name = /^(?:new\s+)?([A-Za-z]+)/.exec(call)![1]!;
  return name === "tracer" ? "Tracer" : name;
}

/** GitHub's anchor for a heading. */
export function anchorOf(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s-]/gu, "")
    .replace(/\s/g, "-");
}
