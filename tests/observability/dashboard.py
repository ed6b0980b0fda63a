#!/usr/bin/env python3
"""The Grafana dashboard's PromQL, taken out of the JSON for Prometheus to check.

Every panel target's `expr` is read with the dashboard's variables replaced by their
defaults (and Grafana's built-ins by fixed windows), so what promtool and the live
Prometheus evaluate is exactly what Grafana would send. Subcommands:

  check DASHBOARD                      the dashboard's shape (datasource variable, ids, …)
  rules DASHBOARD                      every expression as a recording rule (YAML)
  unittest DASHBOARD TEMPLATE RULES    a promtool test file: PANEL("title", A) in the
                                       template becomes that target's expression
  scrape-config --targets … --namespace NS --interval I
                                       prometheus.yml for the given app instances, each
                                       labelled as Kubernetes' pod scraping would label
                                       it (namespace, cluster, app, pod from its /info)
  live DASHBOARD URL [--require PREFIX]...
                                       every expression against a running Prometheus;
                                       a panel on a metric named PREFIX… must have data
  value DASHBOARD URL TITLE REF [--rate-interval D]
                                       one panel target's current value per series, as
                                       JSON {"label=value,…": number}

Standard library only: it runs on a machine that has never seen the project.
"""

import argparse
import json
import re
import sys
import urllib.parse
import urllib.request

# Grafana's built-in interval variables, fixed for the checks. The live Prometheus
# scrapes every 1 s (this folder's run.sh) or 5 s (the mesh lab's), so 20 s holds
# enough samples for rate().
BUILTINS_UNIT = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}
BUILTINS_LIVE = {"__rate_interval": "20s", "__interval": "1s", "__range": "5m"}

VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def variables(dashboard):
    """The default value of each template variable but the datasource."""
    out = {}
    for v in dashboard["templating"]["list"]:
        if v["type"] == "datasource":
            continue
        out[v["name"]] = v["current"]["value"]
    return out


def substitute(expr, values):
    def one(m):
        name = m.group(1) or m.group(2)
        if name.isdigit():  # label_replace's "$1": a capture group, not a variable
            return m.group(0)
        if name not in values:
            raise SystemExit(f"unknown variable ${name} in: {expr}")
        return values[name]

    return VARIABLE.sub(one, expr)


def targets(dashboard, builtins):
    """(panel id, panel title, refId, expression with variables replaced) of every target."""
    values = {**variables(dashboard), **builtins}
    for panel in dashboard["panels"]:
        for t in panel.get("targets", []):
            yield panel["id"], panel["title"], t["refId"], substitute(t["expr"], values)


def check(dashboard):
    problems = []
    ds = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    if len(ds) != 1 or ds[0]["name"] != "datasource" or ds[0]["query"] != "prometheus":
        problems.append("one datasource variable `datasource` of type prometheus")
    if "namespace" not in variables(dashboard):
        problems.append("a `namespace` variable")
    ids = [p["id"] for p in dashboard["panels"]]
    if len(ids) != len(set(ids)):
        problems.append(f"panel ids repeat: {ids}")
    titles = [p["title"] for p in dashboard["panels"]]
    if len(titles) != len(set(titles)):
        problems.append("panel titles repeat (the unit tests find panels by title)")
    for p in dashboard["panels"]:
        if p["type"] == "row":
            continue
        where = f'panel {p["id"]} "{p["title"]}"'
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{where}: datasource is not ${{datasource}}")
        ts = p.get("targets", [])
        if not ts:
            problems.append(f"{where}: no query")
        refs = [t.get("refId") for t in ts]
        if len(refs) != len(set(refs)):
            problems.append(f"{where}: refIds repeat")
        for t in ts:
            if not t.get("expr", "").strip():
                problems.append(f"{where}: target {t.get('refId')} has no expr")
            if t.get("datasource", {}).get("uid") != "${datasource}":
                problems.append(
                    f"{where}: target {t.get('refId')} datasource is not ${{datasource}}"
                )
    list(targets(dashboard, BUILTINS_UNIT))  # every variable known
    return problems


def rule_name(panel_id, ref):
    return f"dashboard:panel{panel_id}:{ref}"


def rules(dashboard):
    lines = ["groups:", "  - name: theater-msa-dashboard", "    rules:"]
    for pid, title, ref, expr in targets(dashboard, BUILTINS_UNIT):
        lines.append(f"      # {title} ({ref})")
        lines.append(f"      - record: {rule_name(pid, ref)}")
        lines.append(f"        expr: {json.dumps(expr)}")
    return "\n".join(lines) + "\n"


PANEL_REF = re.compile(r'PANEL\("([^"]+)",\s*([A-Z])\)')


def unittest(dashboard, template, rules_file):
    by_title = {(title, ref): expr for _, title, ref, expr in targets(dashboard, BUILTINS_UNIT)}
    used = set()

    def one(m):
        key = (m.group(1), m.group(2))
        if key not in by_title:
            raise SystemExit(f"the unit tests name a panel target the dashboard lacks: {key}")
        used.add(key)
        return json.dumps(by_title[key])

    text = PANEL_REF.sub(one, template).replace("RULES_FILE", rules_file)
    untested = sorted(set(by_title) - used)
    return text, untested


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def scrape_config(target_list, namespace, interval):
    lines = [
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
        "scrape_configs:",
        "  - job_name: theater",
        "    static_configs:",
    ]
    for target in target_list:
        info = get_json(f"http://{target}/info")
        labels = {
            "namespace": namespace,
            "cluster": info["cluster"],
            "app": info["service"],
            "pod": info["pod"],
        }
        lines.append(f"      - targets: [{json.dumps(target)}]")
        lines.append("        labels:")
        lines.extend(f"          {k}: {json.dumps(v)}" for k, v in labels.items())
        print(f"  target {target}: {json.dumps(labels)}", file=sys.stderr)
    return "\n".join(lines) + "\n"


def query(base, expr):
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return get_json(url, timeout=10)
    except urllib.error.HTTPError as e:  # Prometheus answers 400 with a JSON error body
        return json.load(e)


def metric_names(expr):
    """The app's, Istio's and Envoy's metrics an expression reads (histograms by name)."""
    return sorted(set(re.findall(r"\b((?:theater|istio|envoy)_[a-z0-9_]+?)(?:_bucket)?\b", expr)))


def live(dashboard, base, required):
    failed = 0
    for pid, title, ref, expr in targets(dashboard, BUILTINS_LIVE):
        answer = query(base, expr)
        name = f'panel {pid} "{title}" {ref}'
        if answer.get("status") != "success":
            print(f"FAIL {name}: {answer.get('error')}")
            failed += 1
            continue
        series = answer["data"]["result"]
        shown = ", ".join(
            f"{json.dumps(s['metric'], ensure_ascii=False)}={float(s['value'][1]):.4g}"
            for s in series[:4]
        )
        names = metric_names(expr)
        if names and not series:
            needed = [m for m in names if m.startswith(tuple(required))]
            present = all(query(base, f"count({m})")["data"]["result"] for m in names)
            if needed or present:
                why = "required" if needed else "exported"
                print(f"FAIL {name}: no data although {', '.join(needed or names)} {why}")
                failed += 1
                continue
            print(f"ok   {name}: no data (nothing scraped exports {', '.join(names)})")
            continue
        kind = ", ".join(names) if names else "constant"
        print(f"ok   {name} [{kind}]: {len(series)} series {shown}")
    return failed


def value(dashboard, base, title, ref, rate_interval):
    """The current value of one panel target, per series."""
    builtins = {**BUILTINS_LIVE, "__rate_interval": rate_interval}
    exprs = [e for _, t, r, e in targets(dashboard, builtins) if (t, r) == (title, ref)]
    if not exprs:
        raise SystemExit(f'the dashboard has no panel "{title}" with target {ref}')
    answer = query(base, exprs[0])
    if answer.get("status") != "success":
        raise SystemExit(f'panel "{title}" {ref}: {answer.get("error")}')
    return {
        ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items())): float(s["value"][1])
        for s in answer["data"]["result"]
    }


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check").add_argument("dashboard")
    sub.add_parser("rules").add_argument("dashboard")
    u = sub.add_parser("unittest")
    u.add_argument("dashboard")
    u.add_argument("template")
    u.add_argument("rules_file")
    s = sub.add_parser("scrape-config")
    s.add_argument("--targets", required=True)
    s.add_argument("--namespace", required=True)
    s.add_argument("--interval", default="1s")
    lv = sub.add_parser("live")
    lv.add_argument("dashboard")
    lv.add_argument("url")
    lv.add_argument("--require", action="append", default=[], metavar="PREFIX")
    v = sub.add_parser("value")
    v.add_argument("dashboard")
    v.add_argument("url")
    v.add_argument("title")
    v.add_argument("ref")
    v.add_argument("--rate-interval", default=BUILTINS_LIVE["__rate_interval"])
    args = parser.parse_args()

    if args.command == "check":
        problems = check(load(args.dashboard))
        for p in problems:
            print(f"FAIL {p}")
        sys.exit(1 if problems else 0)
    if args.command == "rules":
        sys.stdout.write(rules(load(args.dashboard)))
    elif args.command == "unittest":
        with open(args.template, encoding="utf-8") as f:
            text, untested = unittest(load(args.dashboard), f.read(), args.rules_file)
        sys.stdout.write(text)
        for title, ref in untested:
            print(
                f'  (no unit test for panel "{title}" {ref}; its expression is still parsed)',
                file=sys.stderr,
            )
    elif args.command == "scrape-config":
        sys.stdout.write(
            scrape_config([t for t in args.targets.split(",") if t], args.namespace, args.interval)
        )
    elif args.command == "live":
        failed = live(load(args.dashboard), args.url.rstrip("/"), args.require)
        sys.exit(1 if failed else 0)
    elif args.command == "value":
        found = value(
            load(args.dashboard),
            args.url.rstrip("/"),
            args.title,
            args.ref,
            args.rate_interval,
        )
        print(json.dumps(found, sort_keys=True))


if __name__ == "__main__":
    main()
