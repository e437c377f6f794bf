#!/usr/bin/env bash
# File → store throughput of `vigil run` with the rule pack: generates mixed traffic
# (auth.log, Tetragon, Cowrie, k8s audit) with `vigil generate --fast`, starts the
# daemon on a fresh store tailing it, polls /metrics until every line is stored, then
# waits until the full-text index has caught up (reported separately).
# Rules: the pack plus SigmaHQ's Linux rules from the corpus (the issue's configuration),
# or VIGIL_RULES_PATHS (comma-separated) when set.
# Usage: scripts/bench/daemon-file.sh [rate] [seconds]   (build with --release first)
set -u
cd "$(dirname "$0")/../.."
vigil=${VIGIL_BIN:-target/release/vigil}
python=${VIGIL_PYTHON:-python3}
rate=${1:-5000}; seconds=${2:-20}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
$vigil generate --fast --rate "$rate" --duration "$seconds" --out-dir "$work/logs" 2>/dev/null
total=$(cat "$work"/logs/* | wc -l)
corpus=${VIGIL_CORPUS:-../shared/corpus}
if [ -z "${VIGIL_RULES_PATHS:-}" ]; then
  VIGIL_RULES_PATHS=rules
  [ -d "$corpus/sigma/rules/linux" ] && VIGIL_RULES_PATHS="rules,$corpus/sigma/rules/linux"
fi
echo "rules: $VIGIL_RULES_PATHS" >&2
port=18080
VIGIL_RULES_PATHS=$VIGIL_RULES_PATHS VIGIL_STORE_DIR="$work/store" VIGIL_API_LISTEN=127.0.0.1:$port VIGIL_API_WRITE_TOKEN=benchbenchbenchbench \
  $vigil run --file "$work/logs" 2>"$work/daemon.err" &
pid=$!
start=$(date +%s.%N)
while true; do
  m=$(curl -s 127.0.0.1:$port/metrics 2>/dev/null)
  n=$(awk '/^vigil_events_stored_total/ {print $2}' <<<"$m")
  d=$(awk '/^vigil_dead_letters_total/ {s+=$2} END {print s+0}' <<<"$m")
  if [ -n "$n" ] && [ $((n + d)) -ge "$total" ]; then break; fi
  kill -0 $pid 2>/dev/null || { cat "$work/daemon.err"; exit 1; }
  sleep 0.2
done
end=$(date +%s.%N)
# Stored is not yet searchable: the full-text indexer works behind the writer. Wait
# for it too, so the second figure is the end-to-end (searchable) rate.
while true; do
  indexed=$($python -c "import sqlite3,sys; c=sqlite3.connect(f'file:{sys.argv[1]}?mode=ro',uri=True); print(c.execute('SELECT indexed_to FROM fts_progress').fetchone()[0])" "$work/store/vigil-fts.db" 2>/dev/null)
  last=$($python -c "import sqlite3,sys; c=sqlite3.connect(f'file:{sys.argv[1]}?mode=ro',uri=True); print(c.execute('SELECT coalesce(max(id),0) FROM events').fetchone()[0])" "$work/store/vigil.db" 2>/dev/null)
  if [ -n "$indexed" ] && [ -n "$last" ] && [ "$indexed" -ge "$last" ]; then break; fi
  kill -0 $pid 2>/dev/null || { cat "$work/daemon.err"; exit 1; }
  sleep 0.2
done
searchable=$(date +%s.%N)
rss=$(ps -o rss= -p $pid)
peak=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
kill -TERM $pid; wait $pid
echo "lines $total stored $n dead $d seconds $(echo "$end - $start" | bc) events/s $(echo "$total / ($end - $start)" | bc)" \
  "searchable_after $(echo "$searchable - $start" | bc) searchable_events/s $(echo "$total / ($searchable - $start)" | bc) rss_kb $rss peak_rss_kb $peak"
