#!/usr/bin/env python3
"""Turns vfio.benchmarks/target/bench/{results.txt,jmh.json} into the Markdown tables of
docs/benchmarks.md. Medians everywhere; ratios are against floors measured in the same run."""
import json
import statistics
import sys
from pathlib import Path

out = Path(sys.argv[1])
lines = (out / "results.txt").read_text().splitlines()


def kv(prefix=""):
    d = {}
    for ln in lines:
        parts = ln.split()
        if prefix:
            if not parts or parts[0] != prefix:
                continue
            parts = parts[1:]
        if len(parts) >= 2:
            try:
                d[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return d


def loads(section):
    return ", ".join(ln.split(" ", 2)[2] for ln in lines if ln.startswith("load " + section)).strip()


for ln in lines:
    if ln.startswith(("machine", "jvm", "gcc", "mode", "finished")):
        print("    " + ln)
print()

def read_jmh(path):
    """{benchmark[params]: median}, {benchmark[params]: best} of a JMH JSON result file."""
    med, low = {}, {}
    if path.exists():
        for r in json.loads(path.read_text()):
            name = r["benchmark"].rsplit(".", 2)
            key = name[-2] + "." + name[-1]
            if r.get("params"):
                key += "[" + ",".join(f"{k}={v}" for k, v in r["params"].items()) + "]"
            raw = [x for fork in r["primaryMetric"]["rawData"] for x in fork]
            med[key] = statistics.median(raw)
            low[key] = min(raw)
    return med, low


jmh_file = out / "jmh.json"
if jmh_file.exists():
    jmh, best = read_jmh(jmh_file)
    varhandle, _ = read_jmh(out / "jmh-varhandle.json")
    c = kv()
    print(f"### Mapped fast path (ns/op; median and best of the JMH iterations; load avg {loads('mapped')})")
    print()
    print("| op | API | raw VarHandle | API / raw | API / raw, best | C call/op | C loop | API / C call | API / C loop |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = [(layout, op, op) for layout in ("whole", "sparse") for op in ("Read32", "Read64", "Write32", "Write64")]
    rows.insert(6, ("sparse", "Read32Later", "Read32"))
    for layout, op, c_op in rows:
        a, r = f"MappedAccessBench.api{op}[layout={layout}]", f"MappedAccessBench.raw{op}[layout={layout}]"
        cc = c.get(f"c-{c_op.lower()}-call")
        cl = c.get(f"c-{c_op.lower()}-loop")
        if a not in jmh or r not in jmh:
            continue
        api, raw = jmh[a], jmh[r]
        what = f"read32 {layout}, 2nd area (lookup)" if op.endswith("Later") else f"{op.lower()} {layout}"
        print(f"| {what} | {api:.2f} | {raw:.2f} | {api / raw:.2f}x | {best[a] / best[r]:.2f}x "
              f"| {cc:.2f} | {cl:.2f} | {api / cc:.2f}x | {api / cl:.2f}x |")
    print()
    print("Primitives and ablation, read32 of BAR2 (ns/op, median): the raw VarHandle baseline, a raw load by"
          " address (`Unsafe`), the raw access plus only the re-check of a volatile mapping reference, and the API"
          " with the core's raw loads (default) and with its VarHandle loads (`-Dvfio.core.rawLoads=false`,"
          " what Java 24+ runs without `--sun-misc-unsafe-memory-access=allow`):")
    print()
    print("| op | raw VarHandle | raw Unsafe | raw + re-check | API, raw loads | API, VarHandle loads | API / raw VarHandle, raw loads | API / raw VarHandle, VarHandle loads |")
    print("|---|---|---|---|---|---|---|---|")
    for op in ("Read32", "Read64"):
        k = "[layout=whole]"
        r, a = jmh.get(f"MappedAccessBench.raw{op}{k}"), jmh.get(f"MappedAccessBench.api{op}{k}")
        u = jmh.get(f"MappedAccessBench.unsafe{op}{k}")
        g = jmh.get(f"MappedAccessBench.guard{op}{k}")
        v = varhandle.get(f"MappedAccessBench.api{op}{k}")
        if r and a and v:
            f = lambda x: f"{x:.2f}" if x else "-"
            print(f"| {op.lower()} | {r:.2f} | {f(u)} | {f(g)} | {a:.2f} | {v:.2f} | {a / r:.2f}x | {v / r:.2f}x |")
    print()
    print("With a background thread rebinding the device (ns/op, median):")
    print()
    print("| op | no swaps | rebind every 10 ms | ratio |")
    print("|---|---|---|---|")
    for op in ("read32", "write32"):
        a = jmh.get(f"HotSwapAccessBench.{op}[swapMs=0]")
        b = jmh.get(f"HotSwapAccessBench.{op}[swapMs=10]")
        if a and b:
            print(f"| {op} | {a:.2f} | {b:.2f} | {b / a:.2f}x |")
    print()
    jt = out / "jmh.txt"
    if jt.exists():
        swaps = [ln.split(":", 1)[1].strip() for ln in jt.read_text().splitlines() if "rebinds during trial" in ln]
        for x in swaps:
            print(f"    whole swapping trial (warm-up + measurement): {x}")
        print()

calls, _ = read_jmh(out / "jmh-calls.json")
c = kv()
if calls and "c-pread4-ns" in c:
    print(f"### Native calls, one thread (ns per call; JMH median, C median of 7 rounds; load avg {loads('calls')})")
    print()
    print("| call | Java (vfio.posix, JNA) | C | Java - C | Java / C |")
    print("|---|---|---|---|---|")
    for what, j, k in (("4-byte pread of a file", "pread4", "c-pread4-ns"),
                       ("sendmsg + recvmsg of 32 bytes, socketpair", "sendReceive32", "c-sendrecv32-ns")):
        jv = calls.get(f"NativeCallBench.{j}")
        if jv:
            print(f"| {what} | {jv:.0f} | {c[k]:.0f} | {jv - c[k]:.0f} | {jv / c[k]:.2f}x |")
    print()

for pin in ("pinned", "unpinned"):
    d = kv(pin)
    if "c-floor-sync-ns" not in d:
        continue
    how = "every process under taskset -c 1" if pin == "pinned" else "no pinning (scheduler places both sides)"
    print(f"### vfio-user slow path, {pin}: {how} (load avg {loads('slow-' + pin)})")
    print()
    cf = d["c-floor-sync-ns"]
    print("| path | us per op (median) | ratio to C floor |")
    print("|---|---|---|")
    print(f"| C AF_UNIX ping-pong 32/36 B (floor) | {cf / 1e3:.1f} | 1.00x |")
    if "java-floor-sync-ns" in d:
        print(f"| Java ping-pong (vfio.posix.UnixSocket) | {d['java-floor-sync-ns'] / 1e3:.1f} | {d['java-floor-sync-ns'] / cf:.2f}x |")
    for k, label in (("api-read32-ns", "Region.read32 -> REGION_READ (edu, Java server)"),
                     ("api-write32-ns", "Region.write32 -> REGION_WRITE (edu, Java server)")):
        if k in d:
            print(f"| {label} | {d[k] / 1e3:.1f} | {d[k] / cf:.2f}x |")
    print()
    if "api-pipelined16-ops" in d:
        fp = d["c-floor-pipelined-ops"]
        ap = d["api-pipelined16-ops"]
        print("| pipelined, 16 in flight | ops/s | ratio to C floor |")
        print("|---|---|---|")
        print(f"| C ping-pong, 16 in flight (floor) | {fp:.0f} | 1.00x |")
        print(f"| 16 threads x Region.read32 | {ap:.0f} | {ap / fp:.2f}x |")
        print()
        print("| Java vfio-user server (edu) | value |")
        print("|---|---|")
        print(f"| requests/s sustained, 16 in flight | {ap:.0f} |")
        print(f"| CPU per request, 16 in flight | {d['server-pipelined-cpu-us-per-req']:.1f} us |")
        print(f"| CPU per request, synchronous client | {d['server-sync-cpu-us-per-req']:.1f} us |")
        print(f"| server busy fraction, synchronous client | {d['server-sync-busy-fraction']:.2f} |")
        print()

irq = [ln.split() for ln in lines if ln.startswith(("c-irq", "java-irq"))]
if irq:
    print(f"### Interrupt latency (us; load avg {loads('irq')})")
    print()
    print("| path | p50 | p99 | max | p50 / C |")
    print("|---|---|---|---|---|")
    c50 = next(float(x[2]) for x in irq if x[0] == "c-irq-epoll")
    for x in irq:
        print(f"| {x[0]} | {x[2]} | {x[4]} | {x[6]} | {float(x[2]) / c50:.1f}x |")
    print()

swap = [ln.split() for ln in lines if ln.startswith("inproc-swap")]
if swap:
    print(f"### Hot-swap, in process (us over {swap[0][2]} swaps; load avg {loads('swap')})")
    print()
    print("| figure | p50 | p99 | max |")
    print("|---|---|---|---|")
    for x in swap:
        print(f"| {x[0]} | {x[4]} | {x[6]} | {x[8]} |")
    print()

for ln in lines:
    if ln.startswith(("startup-", "idle-rss", "startup skipped")):
        print("    " + ln)
s = loads("startup")
if s:
    print(f"    (load avg {s})")
