/**
 * The dashboard's static shell: one HTML page, one stylesheet and the ES modules `tsc` compiled
 * from `src/dashboard/`, served at `/` and `/dashboard/<file>` without the bearer token (a browser
 * cannot send one when it loads a page). The shell holds no data: every API call it makes carries
 * the token the user gave it.
 *
 * Only files that exist in the build folder when first asked for are served, by exact name, so a
 * hostile path (`..`, encoded slashes, NUL bytes) is simply not one of them. Each is kept gzipped
 * too, and sent so to a browser that accepts it: a remote dashboard loads a third of the bytes.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import { TracetrainError } from "../types/index.js";
import type { Route } from "../http/index.js";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};

/** The page may talk only to this server and load only its own files: no CDN, no inline script. */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

interface StaticFile {
  body: Buffer;
  gzipped: Buffer;
  type: string;
  etag: string;
}

/**
 * The two routes of the dashboard shell. `dir` is the build folder (index.html, style.css, *.js);
 * by default the one built into the package (`dist/dashboard/`).
 */
export function createDashboardRoutes(dir?: string): Route[] {
  let files: Map<string, StaticFile> | undefined;
  // Read on first request, not at start: a store server starts even where the dashboard was not built.
  const load = () => (files ??= readBuild(dir ?? defaultBuildDir()));
  const serve = async (name: string | undefined, request: IncomingMessage, response: ServerResponse) => {
    const file = name === undefined ? undefined : load().get(name);
    if (file === undefined) throw new TracetrainError("not_found", `no dashboard file ${JSON.stringify(String(name).slice(0, 100))}`);
    const headers: Record<string, string> = {
      "content-type": file.type,
      // Not content-hashed names: always revalidate (a 304 costs a round trip, not the file).
      "cache-control": "no-cache",
      etag: file.etag,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      vary: "accept-encoding",
    };
    if (file.type.startsWith("text/html")) headers["content-security-policy"] = CONTENT_SECURITY_POLICY;
    if (request.headers["if-none-match"] === file.etag) {
      response.writeHead(304, headers).end();
      return;
    }
    if (acceptsGzip(request)) {
      response.writeHead(200, { ...headers, "content-encoding": "gzip", "content-length": String(file.gzipped.length) }).end(file.gzipped);
      return;
    }
    response.writeHead(200, { ...headers, "content-length": String(file.body.length) }).end(file.body);
  };
  return [
    { method: "GET", path: "/", public: true, handle: (request, response) => serve("index.html", request, response) },
    { method: "GET", path: "/dashboard/:file", public: true, handle: (request, response, _body, { params }) => serve(params.file, request, response) },
  ];
}

/** The build next to the bundled code (`dist/dashboard/`), or, run from source, the repository's `dist/dashboard/`. */
function defaultBuildDir(): string {
  const candidates = [new URL("./dashboard/", import.meta.url), new URL("../../dist/dashboard/", import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((dir) => existsSync(join(dir, "index.html"))) ?? candidates[0]!;
}

function readBuild(dir: string): Map<string, StaticFile> {
  if (!existsSync(join(dir, "index.html"))) {
    throw new TracetrainError("not_found", `the dashboard is not built: no index.html in ${dir} (run npm run build)`);
  }
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = CONTENT_TYPES[name.slice(name.lastIndexOf("."))];
    if (type === undefined || !/^[\w-]+\.\w+$/.test(name)) continue;
    const body = readFileSync(join(dir, name));
    files.set(name, { body, gzipped: gzipSync(body, { level: 9 }), type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });
  }
  return files;
}

/** Whether the request's Accept-Encoding allows gzip (and does not refuse it with `q=0`). */
function acceptsGzip(request: IncomingMessage): boolean {
  const header = request.headers["accept-encoding"];
  if (typeof header !== "string") return false;
  return header.split(",").some((part) => {
    const [coding, ...params] = part.trim().toLowerCase().split(";");
    const refused = params.some((p) => /^\s*q\s*=\s*0(\.0*)?\s*$/.test(p));
    return (coding === "gzip" || coding === "*") && !refused;
  });
}
