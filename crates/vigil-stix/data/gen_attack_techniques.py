#!/usr/bin/env python3
"""Regenerates attack-techniques.tsv from the ATT&CK technique index.

Usage: gen_attack_techniques.py $VIGIL_CORPUS/samples/stix/mitre-attack/enterprise_attack_patterns_index.json > attack-techniques.tsv
"""
import json
import sys


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        index = json.load(f)
    rows = []
    for t in index:
        if t.get("revoked") or t.get("deprecated"):
            continue
        fields = [
            t["external_id"],
            t["stix_id"],
            t["name"],
            ",".join(t.get("tactics") or []),
            t.get("modified") or "",
        ]
        if any("\t" in x or "\n" in x for x in fields):
            sys.exit(f"tab or newline in {t['external_id']}")
        rows.append(fields)
    rows.sort(key=lambda r: r[0])
    print("# external_id\tstix_id\tname\ttactics\tmodified")
    for r in rows:
        print("\t".join(r))


if __name__ == "__main__":
    main()
