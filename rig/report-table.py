#!/usr/bin/env python3
"""Prints a Markdown table of every guest test against every kernel configuration it ran in,
from the JUnit XML reports rig/run-guest-tests.sh brought back
(vfio.backend.ioctl/target/guest-tests/<kernel>-<mode>-<api>/reports/TEST-junit-jupiter.xml)."""
import glob
import os
import sys
import xml.etree.ElementTree as ET

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "vfio.backend.ioctl", "target", "guest-tests")
configs, results, dates = [], {}, {}
for report in sorted(glob.glob(os.path.join(root, "*", "reports", "TEST-junit-jupiter.xml"))):
    config = report.split(os.sep)[-3]
    suite = ET.parse(report).getroot()
    if int(suite.get("tests", "0")) < 2:
        continue  # a --select run of one class, not a configuration run
    configs.append(config)
    dates[config] = suite.get("timestamp", "")[:10]
    dynamic = {}
    for case in suite.iter("testcase"):
        raw = case.get("name", "")
        name = case.get("classname", "").rsplit(".", 1)[-1] + "." + raw.split("(")[0]
        outcome = "fail" if case.find("failure") is not None or case.find("error") is not None \
            else "skip" if case.find("skipped") is not None else "pass"
        if "()[" in raw:  # a dynamic test (the conformance kit): counted, not listed one by one
            dynamic.setdefault(name, {}).setdefault(outcome, 0)
            dynamic[name][outcome] += 1
        else:
            results.setdefault(name, {})[config] = outcome
    for name, counts in dynamic.items():
        results.setdefault(name + " (dynamic)", {})[config] = ", ".join(
            f"{counts[o]} {o}" for o in ("pass", "fail", "skip") if o in counts)
print("| test | " + " | ".join(configs) + " |")
print("|---|" + "---|" * len(configs))
for name in sorted(results):
    print("| " + name + " | " + " | ".join(results[name].get(c, "-") for c in configs) + " |")
print("| *run on* | " + " | ".join(dates[c] for c in configs) + " |")
