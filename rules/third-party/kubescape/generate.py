#!/usr/bin/env python3
"""Generate Vigil's Kubescape node-agent rules: one Sigma rule per catalogue RuleID.

Kubescape's node-agent already decides what is suspicious; these rules re-raise each of
its alerts as a Vigil alert, with the ATT&CK technique and tactic the node-agent rule
catalogue gives it and a Sigma level from its severity.

Input
    The node-agent rule catalogue, `default-rules.yaml` (kubescape/node-agent
    tests/chart/templates/node-agent/default-rules.yaml; Kubernetes `Rules` object with
    `spec.rules[]`: id, name, description, enabled, severity, mitreTactic,
    mitreTechnique). Default: ../shared/corpus/samples/kubescape/node-agent/default-rules.yaml
    Optional: a folder of real node-agent stdout alerts (`*.jsonl`, logrus JSON lines);
    for a RuleID present there, the shortest real alert becomes the rule's test event.
    Default: the catalogue's folder.

Output
    rules/third-party/kubescape/kubescape_<ruleid>_<name>.yml, one per catalogue rule, each
    with `tests:` (a match on an alert of that RuleID and a no_match on the same alert
    re-labelled with another RuleID). Rule ids (UUIDv4) are kept from existing output
    files - matched by RuleID in the file name - so re-running does not change them; a new
    RuleID gets a fresh uuid4. Files of RuleIDs no longer in the catalogue are reported,
    not deleted.

Mapping
    logsource product kubescape / service node-agent; detection `RuleID: <id>`;
    tags attack.<tactic> + attack.<technique>; level from node-agent severity with its own
    buckets: 1-4 low, 5-7 medium, 8-9 high, 10 critical.

Rerun
    python3 rules/third-party/kubescape/generate.py \
        [--catalogue path/to/default-rules.yaml] [--samples dir] [--out dir]
    then `vigil rules test rules/third-party/kubescape/`. Needs PyYAML.
"""

import argparse
import copy
import json
import re
import sys
import textwrap
import uuid
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
DEFAULT_CATALOGUE = HERE.parents[2] / ".." / "shared" / "corpus" / "samples" / "kubescape" / "node-agent" / "default-rules.yaml"

# ATT&CK Enterprise tactic ids -> Sigma v2 tag names (sigma-appendix-tags.md).
TACTICS = {
    "TA0043": "reconnaissance",
    "TA0042": "resource-development",
    "TA0001": "initial-access",
    "TA0002": "execution",
    "TA0003": "persistence",
    "TA0004": "privilege-escalation",
    "TA0005": "defense-evasion",
    "TA0006": "credential-access",
    "TA0007": "discovery",
    "TA0008": "lateral-movement",
    "TA0009": "collection",
    "TA0011": "command-and-control",
    "TA0010": "exfiltration",
    "TA0040": "impact",
}


def level_of(severity):
    """node-agent's priority buckets (pkg/ruleengine): 1-4 Low, 5-7 Medium, 8-9 High, 10 Critical."""
    if severity >= 10:
        return "critical"
    if severity >= 8:
        return "high"
    if severity >= 5:
        return "medium"
    return "low"


# Synthesised trigger details for RuleIDs without a real sample alert: what the offending
# process looks like and the `arguments` node-agent attaches (field names from the rule's
# message expression in the catalogue).
SYNTH = {
    "R0002": ("cat", "/bin/cat", "cat /etc/hosts", {"flags": ["O_RDONLY"], "path": "/etc/hosts"}, "Unexpected file access detected: cat with PID {pid} to /etc/hosts"),
    "R0007": ("kubectl", "/tmp/kubectl", "/tmp/kubectl get pods -A", {"exec": "/tmp/kubectl", "args": ["/tmp/kubectl", "get", "pods", "-A"]}, "Kubernetes client (kubectl) was executed with PID {pid}"),
    "R0008": ("cat", "/bin/cat", "cat /proc/1/environ", {"flags": ["O_RDONLY"], "path": "/proc/1/environ"}, "Reading environment variables from procfs: /proc/1/environ by process cat"),
    "R0011": ("curl", "/usr/bin/curl", "curl -s http://203.0.113.50:8080/x", {"dstAddr": "203.0.113.50", "dstPort": 8080, "proto": "TCP"}, "Unexpected egress network communication to: 203.0.113.50:8080 using TCP from: webapp"),
    "R0040": ("python3", "/usr/bin/python3", "python3 -c import pty;pty.spawn('/bin/sh')", {"exec": "/usr/bin/python3", "args": ["python3", "-c", "import pty;pty.spawn('/bin/sh')"]}, "Unexpected process arguments: python3 with PID {pid} argv=python3 -c import pty;pty.spawn('/bin/sh')"),
    "R1000": ("kworker", "/dev/shm/kworker", "/dev/shm/kworker", {"exec": "/dev/shm/kworker", "args": ["/dev/shm/kworker"]}, "Process executed from /dev/shm: /dev/shm/kworker in directory /dev/shm"),
    "R1002": ("insmod", "/sbin/insmod", "insmod /tmp/diamorphine.ko", {"module": "diamorphine", "syscall": "finit_module"}, "Kernel module (diamorphine) loading attempt with syscall (finit_module) was called by process (insmod)"),
    "R1003": ("ssh", "/usr/bin/ssh", "ssh -p 2222 root@198.51.100.7", {"dstIP": "198.51.100.7", "dstPort": 2222}, "SSH connection to unexpected destination on non-standard port: 198.51.100.7:2222"),
    "R1004": ("run.sh", "/mnt/data/run.sh", "/bin/sh /mnt/data/run.sh", {"exec": "/mnt/data/run.sh", "args": ["/mnt/data/run.sh"]}, "Process (run.sh) was executed from a mounted path"),
    "R1005": ("3", "/proc/self/fd/3", "/proc/self/fd/3", {"exec": "/proc/self/fd/3", "args": ["/proc/self/fd/3"]}, 'Fileless execution detected: exec call "3" runs from a memory-backed source (memfd / /proc/self/fd)'),
    "R1006": ("unshare", "/usr/bin/unshare", "unshare -Urm /bin/sh", {"syscall": "unshare"}, "Unshare system call (unshare) was called by process (unshare)"),
    "R1007": ("xmrig", "/tmp/xmrig", "/tmp/xmrig -o pool.supportxmr.com:443 --tls", {}, "XMR Crypto Miner process: (/tmp/xmrig) executed"),
    "R1008": ("xmrig", "/tmp/xmrig", "/tmp/xmrig -o pool.supportxmr.com:443 --tls", {"domain": "pool.supportxmr.com.", "addresses": ["141.94.96.144"]}, "Communication with a known crypto mining domain: pool.supportxmr.com."),
    "R1009": ("xmrig", "/tmp/xmrig", "/tmp/xmrig -o 141.94.96.144:3333", {"dstAddr": "141.94.96.144", "dstPort": 3333, "proto": "TCP"}, "Detected crypto mining related port communication on port 3333 to 141.94.96.144 with protocol TCP"),
    "R1010": ("ln", "/bin/ln", "ln -s /etc/shadow /tmp/s", {"oldPath": "/etc/shadow", "newPath": "/tmp/s"}, "Symlink created over sensitive file: /etc/shadow -> /tmp/s"),
    "R1011": ("sh", "/bin/sh", "sh -c echo /tmp/libhook.so > /etc/ld.so.preload", {"flags": ["O_WRONLY", "O_CREAT", "O_TRUNC"], "path": "/etc/ld.so.preload"}, "The dynamic linker configuration file (/etc/ld.so.preload) was modified by process (sh)"),
    "R1012": ("ln", "/bin/ln", "ln /etc/shadow /tmp/h", {"oldPath": "/etc/shadow", "newPath": "/tmp/h"}, "Hardlink created over sensitive file: /etc/shadow - /tmp/h"),
    "R1015": ("gdb", "/usr/bin/gdb", "gdb -p 1", {"syscall": "ptrace"}, "Unexpected ptrace syscall usage from: gdb"),
    "R2000": ("", "", "", {"Name": "webapp-7c9d8b6f5-x2x7q", "Namespace": "default", "UserInfo": {"Username": "system:serviceaccount:default:ci"}}, "Exec to pod: webapp-7c9d8b6f5-x2x7q in namespace default by system:serviceaccount:default:ci"),
    "R2001": ("", "", "", {"Name": "webapp-7c9d8b6f5-x2x7q", "Namespace": "default", "UserInfo": {"Username": "alice@example.com"}}, "Port forward to pod: webapp-7c9d8b6f5-x2x7q in namespace default by alice@example.com"),
}

# Shape of a node-agent stdout alert (logrus JSON), as in the real honeycluster capture;
# a webapp pod whose python process spawned the offending process.
TEMPLATE = {
    "BaseRuntimeMetadata": {"alertName": "", "arguments": {}, "infectedPID": 41873, "severity": 1,
                            "timestamp": "2025-07-10T14:21:07.118204417Z", "trace": {}},
    "CloudMetadata": None,
    "RuleID": "",
    "RuntimeK8sDetails": {"clusterName": "bob", "containerName": "webapp", "hostNetwork": False,
                          "image": "ghcr.io/k8sstormcenter/webapp:latest",
                          "imageDigest": "sha256:4d7c2f0e6b1a9c8d3e5f7a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c0d",
                          "namespace": "default",
                          "containerID": "9f2b7c41d8e3a5f6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3",
                          "podName": "webapp-7c9d8b6f5-x2x7q", "podNamespace": "default",
                          "podLabels": {"app": "webapp"},
                          "workloadName": "webapp", "workloadNamespace": "default", "workloadKind": "Deployment"},
    "RuntimeProcessDetails": {"processTree": {"pid": 41210, "cmdline": "python3 /app/app.py", "comm": "python3",
                                              "ppid": 41190, "pcomm": "containerd-shim", "uid": 1000, "gid": 1000,
                                              "startTime": "0001-01-01T00:00:00Z", "upperLayer": False, "cwd": "/app",
                                              "path": "/usr/local/bin/python3.12", "childrenMap": {}},
                              "containerID": "9f2b7c41d8e3a5f6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3"},
    "event": {"runtime": {"runtimeName": "containerd",
                          "containerId": "9f2b7c41d8e3a5f6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3",
                          "containerName": "webapp", "containerImageName": "ghcr.io/k8sstormcenter/webapp:latest"},
              "k8s": {"namespace": "default", "podName": "webapp-7c9d8b6f5-x2x7q", "podLabels": {"app": "webapp"},
                      "containerName": "webapp", "owner": {}},
              "timestamp": 1752157267118204417, "type": "normal"},
    "level": "error",
    "message": "",
    "msg": "",
    "time": "2025-07-10T14:21:08Z",
}


def synth_alert(rule):
    rid = rule["id"]
    comm, path, cmdline, arguments, message = SYNTH.get(
        rid, ("sh", "/bin/sh", "/bin/sh -c id", {}, rule["name"]))
    a = copy.deepcopy(TEMPLATE)
    pid = a["BaseRuntimeMetadata"]["infectedPID"]
    a["RuleID"] = rid
    a["BaseRuntimeMetadata"]["alertName"] = rule["name"]
    a["BaseRuntimeMetadata"]["arguments"] = arguments
    a["BaseRuntimeMetadata"]["severity"] = rule["severity"]
    a["message"] = message.format(pid=pid)
    a["msg"] = rule["name"]
    if comm:
        a["RuntimeProcessDetails"]["processTree"]["childrenMap"] = {
            f"{comm}\u241f{pid}": {"pid": pid, "cmdline": cmdline, "comm": comm, "ppid": 41210, "pcomm": "python3",
                                   "uid": 1000, "gid": 1000, "startTime": "0001-01-01T00:00:00Z",
                                   "upperLayer": path.startswith(("/tmp/", "/dev/shm/")), "cwd": "/app", "path": path}}
    else:  # admission alerts (R2000/R2001) carry no process
        a["BaseRuntimeMetadata"].pop("infectedPID")
        a.pop("RuntimeProcessDetails")
    return json.dumps(a, separators=(",", ":"), ensure_ascii=False)


def real_alerts(folder):
    """RuleID -> shortest real alert line (deterministic) from *.jsonl files."""
    best = {}
    if folder is None or not folder.is_dir():
        return best
    for f in sorted(folder.glob("*.jsonl")):
        if "partial" in f.name:
            continue
        for line in f.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                rid = json.loads(line).get("RuleID")
            except json.JSONDecodeError:
                continue
            if rid and (rid not in best or len(line) < len(best[rid][0])):
                best[rid] = (line, f.name)
    return best


def relabel(line, other):
    """The same alert, raised by another rule: the near miss."""
    a = json.loads(line)
    a["RuleID"] = other["id"]
    a["BaseRuntimeMetadata"]["alertName"] = other["name"]
    a["msg"] = other["name"]
    return json.dumps(a, separators=(",", ":"), ensure_ascii=False)


def slug(name):
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s[:50].rstrip("_")


def q(s):
    return "'" + s.replace("'", "''") + "'"


def existing_ids(out):
    ids = {}
    for f in out.glob("kubescape_r*.yml"):
        m = re.match(r"kubescape_(r\d+)_", f.name)
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        if m and isinstance(doc, dict) and doc.get("id"):
            ids[m.group(1).upper()] = (doc["id"], f)
    return ids


def render(rule, rule_id, match_event, match_origin, miss_event, other):
    tactic = TACTICS.get(rule.get("mitreTactic", ""))
    technique = rule.get("mitreTechnique", "")
    tags = []
    if tactic:
        tags.append(f"attack.{tactic}")
    if technique:
        tags.append(f"attack.{technique.lower()}")
    desc = rule["description"].strip().rstrip(".")
    enabled = "" if rule.get("enabled", True) else " Disabled by default in node-agent's catalogue."
    lines = [
        f"title: Kubescape {rule['id']} - {rule['name']}",
        f"id: {rule_id}",
        "status: experimental",
        "description: |",
        *textwrap.wrap(
            f"Kubescape node-agent rule {rule['id']} ({rule['name']}) fired: {desc}.{enabled} "
            f"Vigil re-raises the node-agent alert with the rule's ATT&CK mapping from the catalogue "
            f"({rule.get('mitreTechnique', '-')}, {rule.get('mitreTactic', '-')}) and a level from its "
            f"default severity ({rule['severity']}). Generated by generate.py from default-rules.yaml; "
            f"edit the generator, not this file.",
            width=88, initial_indent="    ", subsequent_indent="    ", break_on_hyphens=False),
        "references:",
        "    - https://github.com/kubescape/node-agent",
        "    - https://kubescape.io/docs/operator/runtime-threat-detection/",
    ]
    if technique:
        lines.append(f"    - https://attack.mitre.org/techniques/{technique.replace('.', '/')}/")
    lines += [
        "author: Vigil",
        "date: 2026-11-24",
        "tags:",
        *[f"    - {t}" for t in tags],
        "logsource:",
        "    product: kubescape",
        "    service: node-agent",
        "detection:",
        "    selection:",
        f"        RuleID: {rule['id']}",
        "    condition: selection",
        "fields:",
        "    - AlertName",
        "    - Image",
        "    - CommandLine",
        "    - TargetFilename",
        "    - RuntimeK8sDetails.namespace",
        "    - RuntimeK8sDetails.podName",
        "falsepositives:",
        "    - Those of the node-agent rule itself (an application profile still learning or incomplete)",
        f"level: {level_of(rule['severity'])}",
        "tests:",
        f"    - name: {q(match_origin)}",
        "      expect: match",
        "      source: kubescape",
        "      events:",
        f"          - {q(match_event)}",
        f"    - name: {q('the same alert raised by ' + other['id'] + ' (' + other['name'] + ')')}",
        "      expect: no_match",
        "      source: kubescape",
        "      events:",
        f"          - {q(miss_event)}",
    ]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--catalogue", type=Path, default=DEFAULT_CATALOGUE.resolve())
    ap.add_argument("--samples", type=Path, default=None, help="folder of real node-agent stdout *.jsonl alerts")
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    samples = args.samples if args.samples else args.catalogue.parent
    rules = yaml.safe_load(args.catalogue.read_text(encoding="utf-8"))["spec"]["rules"]
    real = real_alerts(samples)
    ids = existing_ids(args.out)
    written = set()
    for i, rule in enumerate(rules):
        rid = rule["id"]
        other = rules[(i + 1) % len(rules)]
        if rid in real:
            event, origin = real[rid][0], f"real node-agent alert ({real[rid][1]})"
        else:
            event, origin = synth_alert(rule), "node-agent stdout alert (synthesised from the catalogue)"
        rule_id, old_file = ids.get(rid, (str(uuid.uuid4()), None))
        path = args.out / f"kubescape_{rid.lower()}_{slug(rule['name'])}.yml"
        if old_file and old_file != path:
            old_file.unlink()
        path.write_text(render(rule, rule_id, event, origin, relabel(event, other), other), encoding="utf-8")
        written.add(rid)
        print(f"{path.name}: {rid} {level_of(rule['severity'])} {rule.get('mitreTechnique')} "
              f"({'real' if rid in real else 'synthesised'} test event)")
    for rid, (_, f) in sorted(ids.items()):
        if rid not in written:
            print(f"warning: {f.name}: {rid} is no longer in the catalogue (left in place)", file=sys.stderr)


if __name__ == "__main__":
    main()
