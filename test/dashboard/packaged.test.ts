/**
 * The dashboard as the package ships it: `npm run build`'s two steps (tsup, then the dashboard
 * build into dist/dashboard/) into a scratch folder, and the built server finding the dashboard
 * beside its own chunks with no option given.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { get as httpGet } from "node:http";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "tsup";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOptions } from "../../tsup.config.js";
import { buildDashboardInto } from "./support.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const outDir = join(root, "test", ".tmp", `dist-dashboard-${process.pid}`);
let printed = "";

beforeAll(async () => {
  mkdirSync(outDir, { recursive: true });
  await build({ ...buildOptions, entry: { server: "src/entries/server.ts", store: "src/entries/store.ts" }, outDir, dts: false, config: false, silent: true });
  printed = buildDashboardInto(join(outDir, "dashboard"));
}, 120_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

/** Runs `use` against the built startStoreServer (over a built MemoryStore), closing both after. */
async function withBuiltServer(use: (url: string) => Promise<void>): Promise<void> {
  const { startStoreServer } = (await import(join(outDir, "server.js"))) as typeof import("tracetrain/server");
  const { MemoryStore } = (await import(join(outDir, "store.js"))) as typeof import("tracetrain/store");
  const store = new MemoryStore();
  const server = await startStoreServer({ store, port: 0 });
  try {
    await use(server.url);
  } finally {
    await server.close();
    await store.close();
  }
}

describe("the built dashboard", () => {
  it("is served by the built startStoreServer from dist/dashboard/ by default", async () => {
    await withBuiltServer(async (url) => {
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toBe(readFileSync(join(root, "src", "dashboard", "index.html"), "utf8"));
      const main = await fetch(`${url}/dashboard/main.js`);
      expect(main.status).toBe(200);
      expect(await main.text()).toBe(readFileSync(join(outDir, "dashboard", "main.js"), "utf8"));
    });
  });

  it("reports the size of what it built, which stays small, gzipped as the server sends it", () => {
    const match = /dashboard: (\d+) files, ([\d.]+) KiB \(([\d.]+) KiB gzipped, as served\)/.exec(printed);
    expect(match, printed).not.toBeNull();
    console.log(printed.trim());
    expect(Number(match![2])).toBeLessThan(200);
    expect(Number(match![3])).toBeLessThan(60);
  });

  it("loads nothing but its own modules: every import in the build is a relative path to a built file", () => {
    const dir = join(outDir, "dashboard");
    const modules = readdirSync(dir).filter((name) => name.endsWith(".js"));
    expect(modules.length).toBeGreaterThan(5);
    let checked = 0;
    for (const name of modules) {
      const text = readFileSync(join(dir, name), "utf8");
      const specifiers = [...text.matchAll(/(?:^|[;\n])\s*(?:import|export)\s[^;]*?from\s*"([^"]+)"/g), ...text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1]!);
      for (const specifier of specifiers) {
        expect(specifier, `${name} imports ${specifier}`).toMatch(/^\.\/[\w-]+\.js$/);
        expect(existsSync(join(dir, specifier)), `${name} imports ${specifier}, which was not built`).toBe(true);
        checked++;
      }
    }
    // Every module but the leaves imports something: a regex that matched nothing would prove nothing.
    expect(checked).toBeGreaterThan(modules.length);
  });

  it("is sent gzipped to a browser that accepts it, and whole to one that does not", async () => {
    await withBuiltServer(async (url) => {
      const built = readFileSync(join(outDir, "dashboard", "main.js"));
      const raw = (encoding: string) =>
        new Promise<{ headers: import("node:http").IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
          const request = httpGet(`${url}/dashboard/main.js`, { headers: { "accept-encoding": encoding } }, (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks) })).on("error", reject);
          });
          request.on("error", reject);
        });
      const zipped = await raw("br, gzip;q=0.8");
      expect(zipped.headers["content-encoding"]).toBe("gzip");
      expect(zipped.headers.vary).toBe("accept-encoding");
      expect(gunzipSync(zipped.body).equals(built)).toBe(true);
      expect(zipped.body.length).toBeLessThan(built.length);
      for (const refused of ["identity", "gzip;q=0", ""]) {
        const plain = await raw(refused);
        expect(plain.headers["content-encoding"], refused).toBeUndefined();
        expect(plain.body.equals(built), refused).toBe(true);
      }
    });
  });
});
