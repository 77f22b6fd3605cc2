# Sourced by the bin/ scripts: locate (and if needed build) the kafka08 binary.
# KAFKA08_BIN overrides the binary (tests point it at the one cargo just built).
KAFKA08_HOME="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export KAFKA08_HOME

kafka08_bin() {
  if [ -n "${KAFKA08_BIN:-}" ]; then
    printf '%s\n' "$KAFKA08_BIN"
    return 0
  fi
  local target="${CARGO_TARGET_DIR:-$KAFKA08_HOME/target}"
  local bin="$target/release/kafka08"
  # Build when missing or older than any source file.
  if [ ! -x "$bin" ] || [ -n "$(find "$KAFKA08_HOME/src" "$KAFKA08_HOME/Cargo.toml" -newer "$bin" -print -quit 2>/dev/null)" ]; then
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
      PATH="$HOME/.cargo/bin:$PATH"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
      echo "kafka08: the binary is not built and cargo is not installed (run zk-scripts/install.sh)" >&2
      return 1
    fi
    echo "kafka08: building $bin ..." >&2
    (cd "$KAFKA08_HOME" && cargo build --release --quiet --bin kafka08 >&2) || return 1
  fi
  printf '%s\n' "$bin"
}
