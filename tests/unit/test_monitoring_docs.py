#!/usr/bin/python3
"""docs/monitoring.md stays true: its Prometheus configuration and alert
rules (the fenced blocks that start with "# prometheus.yml" and
"# flotilla-alerts.yml") pass promtool, and every metric the rules and the
table name is one the board serves (guests/control/api_health.c).

    test_monitoring_docs.py ROOT
"""
import os
import re
import subprocess
import sys
import tempfile


def main():
    root = sys.argv[1]
    doc = open(os.path.join(root, "docs", "monitoring.md")).read()
    source = open(os.path.join(root, "guests", "control", "api_health.c")).read()
    blocks = {}
    for body in re.findall(r"```yaml\n(.*?)```", doc, re.S):
        m = re.match(r"# (\S+\.yml)\n", body)
        if m:
            blocks[m.group(1)] = body
    n = 0
    failed = 0

    def check(what, ok, detail=""):
        nonlocal n, failed
        n += 1
        print(f"{'ok' if ok else 'not ok'} {n} - {what}")
        if not ok:
            failed += 1
            for line in str(detail).splitlines():
                print(f"# {line}")

    check("docs/monitoring.md has a prometheus.yml and a flotilla-alerts.yml block",
          set(blocks) >= {"prometheus.yml", "flotilla-alerts.yml"}, list(blocks))
    with tempfile.TemporaryDirectory() as d:
        for name, body in blocks.items():
            with open(os.path.join(d, name), "w") as f:
                f.write(body)
        if "flotilla-alerts.yml" in blocks:
            r = subprocess.run(["promtool", "check", "rules", os.path.join(d, "flotilla-alerts.yml")],
                               capture_output=True, text=True, timeout=60)
            check("the example alert rules pass promtool check rules", r.returncode == 0, r.stdout + r.stderr)
        if "prometheus.yml" in blocks:
            r = subprocess.run(["promtool", "check", "config", "--syntax-only",
                                os.path.join(d, "prometheus.yml")],
                               capture_output=True, text=True, timeout=60)
            check("the fleet scrape configuration passes promtool check config", r.returncode == 0,
                  r.stdout + r.stderr)
    served = set(re.findall(r'"(flotilla_[a-z_]+)"', source))
    documented = set(re.findall(r"`(flotilla_[a-z_]+)`", doc))
    used = set(re.findall(r"\b(flotilla_[a-z_]+)", blocks.get("flotilla-alerts.yml", "")))
    check("every metric the board serves is documented", served <= documented, sorted(served - documented))
    check("the docs and alerts name only metrics the board serves", (documented | used) <= served,
          sorted((documented | used) - served))
    print(f"1..{n}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
