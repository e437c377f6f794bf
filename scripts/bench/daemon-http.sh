#!/usr/bin/env bash
# Batched HTTP ingest: 20 POSTs of 10,000 Tetragon NDJSON lines each to a fresh
# `vigil run`; reports the accept rate and the rate at which they were stored.
# Usage: scripts/bench/daemon-http.sh   (build with --release first)
set -u
cd "$(dirname "$0")/../.."
vigil=${VIGIL_BIN:-target/release/vigil}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
$vigil generate --fast --rate 20000 --duration 2 --out-dir "$work/logs" 2>/dev/null
head -10000 "$work/logs/tetragon.jsonl" > "$work/body.ndjson"
lines=$(wc -l < "$work/body.ndjson")
port=18082; token=benchbenchbenchbench
VIGIL_STORE_DIR="$work/store" VIGIL_API_LISTEN=127.0.0.1:$port VIGIL_API_WRITE_TOKEN=$token \
  $vigil run 2>"$work/daemon.err" &
pid=$!
until curl -s 127.0.0.1:$port/healthz >/dev/null; do sleep 0.1; done
start=$(date +%s.%N); ok=0; refused=0
for _ in $(seq 1 20); do
  code=$(curl -s -o /dev/null -w "%{http_code}" -H "Authorization: Bearer $token" \
    -H "Content-Type: application/x-ndjson" --data-binary @"$work/body.ndjson" 127.0.0.1:$port/events)
  if [ "$code" = 202 ]; then ok=$((ok + 1)); else refused=$((refused + 1)); sleep 0.5; fi
done
accepted=$(date +%s.%N)
until [ "$(curl -s 127.0.0.1:$port/metrics | awk '/^vigil_events_stored_total/ {print $2}')" -ge $((ok * lines)) ]; do
  sleep 0.1
done
end=$(date +%s.%N)
kill -TERM $pid; wait $pid
echo "requests accepted $ok, refused with 429 $refused; accepted $(echo "$ok * $lines / ($accepted - $start)" | bc) events/s; stored $(echo "$ok * $lines / ($end - $start)" | bc) events/s"
