#!/usr/bin/env bash
# Event -> alert latency at a steady ingest rate: a fresh `vigil run` with the rule pack
# and alert aggregation off (every matching event opens its own alert); Tetragon records
# POSTed to /events in batches at `rate` events/s, each stamped with its send time; the
# store's alerts table polled every millisecond. See daemon_latency.py for the method.
# Usage: scripts/bench/daemon-latency.sh [rate] [seconds] [batch]   (build with --release first)
# PERF_PREFIX="perf record -g -o FILE" profiles the daemon during the run.
set -u
cd "$(dirname "$0")/../.."
vigil=${VIGIL_BIN:-target/release/vigil}
python=${VIGIL_PYTHON:-python3}
rate=${1:-20000}; seconds=${2:-20}; batch=${3:-200}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
$vigil generate --fast --rate 20000 --duration 2 --out-dir "$work/logs" 2>/dev/null
port=18084; token=benchbenchbenchbench
VIGIL_STORE_DIR="$work/store" VIGIL_API_LISTEN=127.0.0.1:$port VIGIL_API_WRITE_TOKEN=$token \
  VIGIL_DETECT_AGGREGATION_WINDOW=0s ${PERF_PREFIX:-} $vigil run 2>"$work/daemon.err" &
pid=$!
until curl -s 127.0.0.1:$port/healthz >/dev/null; do sleep 0.1; done
# The first 2 s are warm-up (caches, first B-tree pages) and not counted.
$python scripts/bench/daemon_latency.py watch "$work/store" $((seconds + 3)) 2 > "$work/watch.json" &
watcher=$!
$python scripts/bench/daemon_latency.py send $port $token "$work/logs/tetragon.jsonl" "$rate" "$seconds" "$batch"
wait $watcher
rss=$(ps -o rss= -p $pid)
kill -TERM $pid; wait $pid
echo "$(cat "$work/watch.json") rss_kb $rss"
