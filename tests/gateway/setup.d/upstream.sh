# Real upstream MCP servers for tests/gateway/test_upstream.py (sourced by tests/gateway/setup.sh):
# @modelcontextprotocol/server-everything, pinned, in its own npm folder (run with Node 22 in its
# streamable-HTTP mode). The second upstream (a small Python `mcp` FastMCP server,
# tests/gateway/upstream_server.py) runs from venv-mcp1.
EVERYTHING_VERSION="2026.8.31"
EVERYTHING_DIR="$CACHE/npm-everything"
everything_stamp="@modelcontextprotocol/server-everything@$EVERYTHING_VERSION"
if [[ ! -f "$EVERYTHING_DIR/.stamp" || "$(cat "$EVERYTHING_DIR/.stamp")" != "$everything_stamp" ]]; then
    log "installing $everything_stamp into $EVERYTHING_DIR"
    rm -rf "$EVERYTHING_DIR"
    mkdir -p "$EVERYTHING_DIR"
    echo '{"name": "toolyard-upstream-parts", "private": true}' >"$EVERYTHING_DIR/package.json"
    (cd "$EVERYTHING_DIR" && npm install --no-audit --no-fund --loglevel=error "$everything_stamp" >&2)
    echo "$everything_stamp" >"$EVERYTHING_DIR/.stamp"
fi
EVERYTHING_JS="$EVERYTHING_DIR/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[[ -e "$EVERYTHING_JS" ]] || { echo "setup: missing $EVERYTHING_JS after install" >&2; exit 1; }
echo "  upstream: @modelcontextprotocol/server-everything $("$NODE22" -p "require('$EVERYTHING_DIR/node_modules/@modelcontextprotocol/server-everything/package.json').version")"
echo "export TOOLYARD_EVERYTHING_JS=\"$EVERYTHING_JS\"" >>"$CACHE/env.sh"
