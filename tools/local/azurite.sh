# Shared by start.sh, test.sh and .ci/run: installs the pinned Azurite from npm and runs it on loopback.
# Source it; it defines functions only.

AZURITE_DIR="${AZURITE_DIR:-.azurite}"

ensure_node_modules() {
  if [ ! -f node_modules/azurite/dist/src/azurite.js ]; then
    echo "Installing Azurite (pinned in package.json) with npm ci..."
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

# True when something answers on the queue and table ports.
azurite_up() {
  (exec 3<>/dev/tcp/127.0.0.1/10001) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/10002) 2>/dev/null
}

# Starts blob, queue and table in one node process (one PID, no telemetry) and waits for it.
# Data goes to a fresh temporary folder, not --inMemoryPersistence: after heavy queue traffic the in-memory
# store was seen to freeze for 8-24 s (once 8 minutes) in its periodic queue clean-up; on disk it did not.
start_azurite() {
  mkdir -p "$AZURITE_DIR"
  AZURITE_DATA="$(mktemp -d "${TMPDIR:-/tmp}/azurite-data.XXXXXX")"
  node node_modules/azurite/dist/src/azurite.js \
    --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
    --location "$AZURITE_DATA" --skipApiVersionCheck --disableTelemetry --silent \
    >"$AZURITE_DIR/azurite.log" 2>&1 &
  AZURITE_PID=$!
  echo "$AZURITE_PID" >"$AZURITE_DIR/azurite.pid"
  for _ in $(seq 1 100); do
    if azurite_up; then
      echo "Azurite is up (PID $AZURITE_PID) on 127.0.0.1:10000-10002."
      return 0
    fi
    if ! kill -0 "$AZURITE_PID" 2>/dev/null; then
      echo "Azurite exited; see $AZURITE_DIR/azurite.log:" >&2
      cat "$AZURITE_DIR/azurite.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "Azurite did not come up within 10 s." >&2
  return 1
}

stop_azurite() {
  if [ -n "${AZURITE_PID:-}" ] && kill -0 "$AZURITE_PID" 2>/dev/null; then
    kill "$AZURITE_PID" 2>/dev/null || true
    wait "$AZURITE_PID" 2>/dev/null || true
  fi
  rm -f "$AZURITE_DIR/azurite.pid"
  if [ -n "${AZURITE_DATA:-}" ]; then rm -rf "$AZURITE_DATA"; fi
}
