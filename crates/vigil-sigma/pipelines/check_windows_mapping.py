#!/usr/bin/env python3
"""Check pipelines/windows.yml against the Sigma rule corpus and the regression events.

What it does
  (a) loads and sanity-checks windows.yml (structure, shadowed / duplicate entries);
  (b) enumerates the logsources of every product: windows rule in the rule directories and
      prints the (category, service) combinations that no entry routes;
  (c) for every line of regression/expected.tsv, checks that the event's Channel / EventID is
      routed to the expected rule's logsource with the engine's first-match semantics, and
      reports, per expected pair, the detection fields of the rule that the event does not
      carry (after applying field_mappings);
  (d) prints summary counts. Exit status 1 if any regression routing failure (or if the
      mapping file is malformed), else 0.

Only PyYAML is needed.  Usage:
  python3 check_windows_mapping.py [--mapping windows.yml] [--corpus /work/shared/corpus/sigma]
                                   [--quiet-fields]
"""

import argparse
import collections
import json
import os
import sys

import yaml

RULE_DIRS = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
]
LS_KEYS = ("product", "category", "service")


def norm(v):
    return None if v is None else str(v).strip().lower()


def norm_ls(ls):
    ls = ls if isinstance(ls, dict) else {}
    return {k: norm(ls.get(k)) for k in LS_KEYS if ls.get(k) is not None}


def ls_str(ls):
    return "{" + ", ".join("%s: %s" % (k, ls[k]) for k in LS_KEYS if k in ls) + "}"


# --------------------------------------------------------------------------------------------
# (a) mapping file
# --------------------------------------------------------------------------------------------
class Mapping:
    def __init__(self, path):
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
        self.errors = []
        self.warnings = []
        self.entries = []  # list of (logsource dict, [(channel_lower, channel, set(ids) | None)])
        self.field_mappings = []  # list of (logsource dict, {sigma_field: [event fields]})
        if not isinstance(data, dict):
            self.errors.append("top level is not a mapping")
            return
        for i, ent in enumerate(data.get("logsources") or []):
            where = "logsources[%d]" % i
            if not isinstance(ent, dict) or not isinstance(ent.get("logsource"), dict):
                self.errors.append("%s: missing `logsource` mapping" % where)
                continue
            extra = set(ent["logsource"]) - set(LS_KEYS)
            if extra:
                self.errors.append("%s: unknown logsource keys %s" % (where, sorted(extra)))
            ls = norm_ls(ent["logsource"])
            if not ls:
                self.errors.append("%s: empty logsource would match every rule" % where)
            alts = []
            wins = ent.get("windows")
            if not isinstance(wins, list) or not wins:
                self.errors.append("%s %s: `windows` must be a non-empty list" % (where, ls_str(ls)))
                wins = []
            for j, w in enumerate(wins):
                if not isinstance(w, dict) or not isinstance(w.get("channel"), str) or not w["channel"].strip():
                    self.errors.append("%s.windows[%d]: needs a non-empty `channel` string" % (where, j))
                    continue
                ids = w.get("event_ids")
                if ids is None or ids == []:
                    idset = None
                elif isinstance(ids, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in ids):
                    idset = set(ids)
                else:
                    self.errors.append("%s.windows[%d]: event_ids must be a list of integers" % (where, j))
                    continue
                if w["channel"] != w["channel"].strip():
                    self.errors.append("%s.windows[%d]: channel has surrounding whitespace" % (where, j))
                alts.append((w["channel"].strip().lower(), w["channel"].strip(), idset))
            # an entry is unreachable when an earlier entry's keys are a subset of its own
            for prev_ls, _ in self.entries:
                if all(ls.get(k) == v for k, v in prev_ls.items()):
                    self.errors.append("%s %s is shadowed by earlier entry %s" % (where, ls_str(ls), ls_str(prev_ls)))
                    break
            self.entries.append((ls, alts))
        for i, fm in enumerate(data.get("field_mappings") or []):
            where = "field_mappings[%d]" % i
            if not isinstance(fm, dict) or not isinstance(fm.get("logsource"), dict) or not isinstance(fm.get("mapping"), dict):
                self.errors.append("%s: needs `logsource` and `mapping` mappings" % where)
                continue
            mp = {}
            for k, v in fm["mapping"].items():
                v = v if isinstance(v, list) else [v]
                if not all(isinstance(x, str) for x in v) or not v:
                    self.errors.append("%s: mapping for %s must be a list of field names" % (where, k))
                    continue
                mp[str(k)] = v
            self.field_mappings.append((norm_ls(fm["logsource"]), mp))

    def entry_for(self, rule_ls):
        """First entry whose logsource keys all equal the rule's (engine semantics)."""
        for ls, alts in self.entries:
            if all(rule_ls.get(k) == v for k, v in ls.items()):
                return ls, alts
        return None

    def fields_for(self, rule_ls, field):
        """Event field names tried for a Sigma field (first matching field_mappings entry wins)."""
        for ls, mp in self.field_mappings:
            if all(rule_ls.get(k) == v for k, v in ls.items()) and field in mp:
                return mp[field]
        return [field]


def routes(alts, channel, event_id):
    ch = (channel or "").strip().lower()
    for alt_ch, _, ids in alts:
        if alt_ch == ch and (ids is None or event_id in ids):
            return True
    return False


# --------------------------------------------------------------------------------------------
# rules
# --------------------------------------------------------------------------------------------
def deep_merge(base, upd):
    out = dict(base)
    for k, v in upd.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def load_rules(corpus):
    """Yield (path, rule_dict) for every rule document, handling Sigma multi-document files
    (`action: global` / `reset` / `repeat`)."""
    for d in RULE_DIRS:
        base = os.path.join(corpus, d)
        for root, _, files in os.walk(base):
            for f in sorted(files):
                if not f.endswith((".yml", ".yaml")):
                    continue
                path = os.path.join(root, f)
                try:
                    with open(path, encoding="utf-8") as fh:
                        docs = list(yaml.safe_load_all(fh))
                except yaml.YAMLError as e:
                    print("WARN: cannot parse %s: %s" % (path, e))
                    continue
                glob, prev = {}, None
                for doc in docs:
                    if not isinstance(doc, dict):
                        continue
                    action = doc.get("action")
                    body = {k: v for k, v in doc.items() if k != "action"}
                    if action == "global":
                        glob = deep_merge(glob, body)
                        continue
                    if action == "reset":
                        glob = {}
                        continue
                    if action == "repeat" and prev is not None:
                        rule = deep_merge(prev, body)
                    else:
                        rule = deep_merge(glob, body)
                    prev = rule
                    yield os.path.relpath(path, corpus), rule


def detection_fields(detection):
    """{field_name: set(search identifiers using it)} from a rule's detection section."""
    out = collections.defaultdict(set)

    def visit(node, ident):
        if isinstance(node, dict):
            for k, v in node.items():
                name = str(k).split("|")[0]
                if name:
                    out[name].add(ident)
        elif isinstance(node, list):
            for x in node:
                if isinstance(x, (dict, list)):
                    visit(x, ident)

    if isinstance(detection, dict):
        for ident, node in detection.items():
            if ident in ("condition", "timeframe"):
                continue
            visit(node, ident)
    return out


def find_nested(obj, key, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = "%s.%s" % (path, k) if path else k
            if k == key and path:
                return p
            r = find_nested(v, key, p)
            if r:
                return r
    return None


# --------------------------------------------------------------------------------------------
def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mapping", default=os.path.join(here, "windows.yml"))
    ap.add_argument("--corpus", default="/work/shared/corpus/sigma")
    ap.add_argument("--quiet-fields", action="store_true", help="do not list per-pair field gaps")
    args = ap.parse_args()

    # (a)
    mp = Mapping(args.mapping)
    print("== (a) mapping file: %s" % args.mapping)
    print("   %d logsource entries, %d field_mappings entries" % (len(mp.entries), len(mp.field_mappings)))
    for e in mp.errors:
        print("   ERROR: %s" % e)

    # (b)
    rules_by_id = {}
    combos = collections.OrderedDict()  # (category, service) -> [paths]
    other = collections.Counter()  # product-less / other-product logsources (informational)
    n_rules = 0
    for path, rule in load_rules(args.corpus):
        n_rules += 1
        rid = rule.get("id")
        if rid is not None:
            rules_by_id.setdefault(str(rid), (path, rule))
        ls = norm_ls(rule.get("logsource"))
        if "logsource" not in rule:
            continue  # correlation / filter documents
        if ls.get("product") == "windows":
            combos.setdefault((ls.get("category"), ls.get("service")), []).append(path)
        elif "product" not in ls:
            other[(ls.get("category"), ls.get("service"))] += 1

    print("\n== (b) windows logsources of %d rule documents" % n_rules)
    covered, uncovered = [], []
    for (cat, svc), paths in sorted(combos.items(), key=lambda x: (str(x[0][0]), str(x[0][1]))):
        ls = {"product": "windows"}
        if cat:
            ls["category"] = cat
        if svc:
            ls["service"] = svc
        hit = mp.entry_for(ls)
        (covered if hit else uncovered).append((ls, paths, hit))
    for ls, paths, hit in covered:
        chans = ", ".join("%s%s" % (c, "" if ids is None else sorted(ids)) for _, c, ids in hit[1])
        print("   ok   %-55s %4d rules -> %s" % (ls_str(ls), len(paths), chans))
    for ls, paths, _ in uncovered:
        print("   NONE %-55s %4d rules (engine falls back to all Windows events), e.g. %s"
              % (ls_str(ls), len(paths), paths[0]))
    print("   product-less logsources (not routed by windows.yml; informational):")
    for (cat, svc), n in sorted(other.items(), key=str):
        print("        category=%s service=%s: %d rules" % (cat, svc, n))

    # (c)
    reg = os.path.join(args.corpus, "regression")
    with open(os.path.join(reg, "events_flat.jsonl"), encoding="utf-8") as fh:
        events = [json.loads(line) for line in fh if line.strip()]
    pairs = []
    with open(os.path.join(reg, "expected.tsv"), encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 2 or not parts[0].strip().isdigit():
                continue
            pairs.append((int(parts[0]), parts[1].strip(), parts[2] if len(parts) > 2 else ""))

    print("\n== (c) regression routing: %d expected pairs, %d events" % (len(pairs), len(events)))
    failures, fallback, ok = [], [], 0
    gaps = collections.OrderedDict()  # rule id -> (path, {field: (idents, event_has_nested)} , n)
    for idx, rid, _src in pairs:
        if idx >= len(events):
            failures.append("line %d: no such event (rule %s)" % (idx, rid))
            continue
        ev = events[idx]
        ch = ev.get("Channel")
        try:
            eid = int(ev.get("EventID"))
        except (TypeError, ValueError):
            eid = None
        if rid not in rules_by_id:
            failures.append("line %d: rule id %s not found in rule dirs" % (idx, rid))
            continue
        path, rule = rules_by_id[rid]
        ls = norm_ls(rule.get("logsource"))
        if ls.get("product") != "windows":
            failures.append("line %d: rule %s (%s) has logsource %s, not product windows"
                            % (idx, rid, path, ls_str(ls)))
            continue
        hit = mp.entry_for(ls)
        if hit is None:
            fallback.append("line %d: %s %s -> no entry, fallback to all Windows events "
                            "(event Channel=%r EventID=%r)" % (idx, path, ls_str(ls), ch, eid))
        elif routes(hit[1], ch, eid):
            ok += 1
        else:
            failures.append("line %d: %s logsource %s (entry %s) NOT routed: event Channel=%r EventID=%r"
                            % (idx, path, ls_str(ls), ls_str(hit[0]), ch, eid))
        # field gaps
        missing = {}
        for field, idents in detection_fields(rule.get("detection")).items():
            cands = mp.fields_for(ls, field)
            if any(c in ev for c in cands):
                continue
            nested = None
            for c in cands:
                nested = nested or find_nested(ev, c)
            ci = [k for k in ev if k.lower() in {c.lower() for c in cands}]
            missing[field] = (sorted(idents), nested, ci)
        if missing:
            g = gaps.setdefault(rid, [path, {}, 0, (ch, eid)])
            g[2] += 1
            for f, info in missing.items():
                g[1].setdefault(f, info)

    for f in failures:
        print("   FAIL %s" % f)
    for f in fallback:
        print("   WARN %s" % f)

    if not args.quiet_fields:
        print("\n   Rule detection fields absent from the expected event (after field_mappings).")
        print("   '[sel]' = used in a non-filter search identifier; filters on absent fields are usually fine.")
        for rid, (path, miss, n, (ch, eid)) in gaps.items():
            print("   - %s %s (%d pair(s); %s/%s)" % (rid, path, n, ch, eid))
            for f, (idents, nested, ci) in sorted(miss.items()):
                sel = any(not i.lower().startswith("filter") for i in idents)
                note = ""
                if nested:
                    note += " present nested as %s" % nested
                if ci:
                    note += " present with different case as %s" % ci
                print("       %s%s in %s%s" % ("[sel] " if sel else "      ", f, ",".join(idents), note))

    # (d)
    print("\n== (d) summary")
    print("   mapping errors:                 %d" % len(mp.errors))
    print("   windows logsource combinations: %d covered, %d uncovered" % (len(covered), len(uncovered)))
    print("   windows rules without entry:    %d" % sum(len(p) for _, p, _ in uncovered))
    print("   regression pairs routed:        %d / %d" % (ok, len(pairs)))
    print("   regression routing failures:    %d" % len(failures))
    print("   regression pairs via fallback:  %d" % len(fallback))
    print("   rules with field gaps:          %d (pairs: %d)" % (len(gaps), sum(g[2] for g in gaps.values())))
    return 1 if failures or mp.errors else 0


if __name__ == "__main__":
    sys.exit(main())
