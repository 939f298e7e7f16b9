/** A minimal router: the store API has a fixed, small set of routes, so a table lookup is all it needs. */
export type Params = Record<string, string>;

interface CompiledRoute<H> {
  method: string;
  pattern: string;
  segments: string[];
  handler: H;
}

export class Router<H> {
  private readonly routes: Array<CompiledRoute<H>> = [];

  add(method: string, pattern: string, handler: H): this {
    this.routes.push({ method, pattern, segments: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /**
   * The route matching `method` and `path`: `{handler, params, pattern}`, `"method"` when the path
   * exists under another method (→ 405), or undefined (→ 404). Path segments are URL-decoded;
   * a segment that does not decode is no match.
   */
  match(method: string, path: string): { handler: H; params: Params; pattern: string } | "method" | undefined {
    const parts = path.split("/").filter(Boolean);
    let otherMethod = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method) return { handler: route.handler, params, pattern: route.pattern };
      otherMethod = true;
    }
    return otherMethod ? "method" : undefined;
  }
}

function matchSegments(pattern: string[], parts: string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = parts[i]!;
    if (expected.startsWith(":")) {
      try {
        params[expected.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}
