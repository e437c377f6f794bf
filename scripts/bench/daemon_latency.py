"""Event -> alert latency of a running `vigil run` (used by daemon-latency.sh).

send:  POSTs NDJSON batches of Tetragon records to /events at a steady rate, each
       record's "time" set to the wall clock (ms) just before its batch is sent.
watch: polls the alerts table (the store's alert file) read-only every millisecond; with aggregation
       off every matching event opens its own alert, whose first_seen_ms is the
       event's time, i.e. its send time. latency = when the alert row became
       visible (first poll that sees it) - first_seen_ms.
Both run as separate processes (no shared interpreter lock); same machine clock.
"""
import datetime
import http.client
import json
import os
import re
import sqlite3
import sys
import time

TIME = re.compile(r'"time":"[^"]*"')
BINARY = re.compile(r'"binary":"[^"]*"')
MARK_EVERY = 100


def send(port, token, template_path, rate, seconds, batch):
    lines = [l.rstrip("\n") for l in open(template_path) if l.strip()]
    # One record in MARK_EVERY is a process start of a crypto-miner binary, which the
    # rule pack's "Crypto-Miner Execution On Linux" rule alerts on; the rest is the
    # generator's ordinary (alert-free) traffic.
    execs = [l for l in lines if l.startswith('{"process_exec"')]
    marked = [BINARY.sub('"binary":"/usr/local/bin/xmrig"', l, count=1) for l in execs]
    conn = http.client.HTTPConnection("127.0.0.1", port)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    interval = batch / rate
    start = time.time()
    sent = refused = 0
    i = 0
    n = 0
    while True:
        due = start + n * interval
        now = time.time()
        if due > now:
            time.sleep(due - now)
        if time.time() - start >= seconds:
            break
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        body = []
        for _ in range(batch):
            line = marked[i % len(marked)] if i % MARK_EVERY == 0 else lines[i % len(lines)]
            body.append(TIME.sub(f'"time":"{stamp}Z"', line, count=1))
            i += 1
        conn.request("POST", "/events", "\n".join(body).encode(), headers)
        response = conn.getresponse()
        response.read()
        if response.status == 202:
            sent += batch
        else:
            refused += batch
        n += 1
    elapsed = time.time() - start
    print(json.dumps({"sent": sent, "refused": refused, "seconds": round(elapsed, 2), "rate": round(sent / elapsed)}))


def watch(store_dir, seconds, warmup):
    conn = None
    deadline = time.time() + seconds
    while conn is None:
        # The alert file; stores written before it existed kept alerts in vigil.db.
        db_path = f"{store_dir}/vigil-alerts.db" if os.path.exists(f"{store_dir}/vigil-alerts.db") else f"{store_dir}/vigil.db"
        try:
            conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
            conn.execute("SELECT 1 FROM alerts LIMIT 1")
        except sqlite3.Error:
            conn = None
            time.sleep(0.05)
    last = 0
    started = time.time() * 1000
    samples = []
    while time.time() < deadline:
        rows = conn.execute("SELECT id, first_seen_ms FROM alerts WHERE id > ? ORDER BY id", (last,)).fetchall()
        seen = time.time() * 1000
        for row_id, first_seen in rows:
            last = row_id
            if first_seen >= started + warmup * 1000:
                samples.append(seen - first_seen)
        time.sleep(0.001)
    samples.sort()
    if not samples:
        print(json.dumps({"alerts": 0}))
        return
    pick = lambda q: round(samples[min(len(samples) - 1, int(q * len(samples)))], 1)
    print(json.dumps({"alerts": len(samples), "p50_ms": pick(0.50), "p90_ms": pick(0.90), "p99_ms": pick(0.99),
                      "max_ms": round(samples[-1], 1)}))


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7]))
    else:
        watch(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
