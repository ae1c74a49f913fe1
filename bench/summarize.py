"""Summarizes bench/run.sh's raw.tsv: medians per target and scenario, the
ratios uapi/peer, and the issue's targets (met or missed)."""

import csv
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = defaultdict(list)
for r in rows:
    by[(r["target"], r["scenario"])].append(r)

SCEN = [("hello", "hello (GET /hello)"), ("read", "session read (GET /)"),
        ("write", "session write (POST /touch)"), ("login", "login (POST /login)")]
TARGETS = ["uapi", "axum", "actix", "hyper"]
PEERS = ["axum", "actix"]


def med(t, s, k):
    v = [float(r[k]) for r in by.get((t, s), []) if r[k] != ""]
    return statistics.median(v) if v else None


def errors(t, s):
    return sum(int(r["errors"]) for r in by.get((t, s), []))


def rt(t, s):
    v = [r["redis_round_trips"] for r in by.get((t, s), []) if r["redis_round_trips"] != ""]
    return v[0] if v else "-"


print("| scenario | target | req/s | p50 ms | p99 ms | errors | CPU µs/req | Redis CPU µs/req | Redis cmds/req | Redis round trips/req |")
print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s, label in SCEN:
    for t in TARGETS:
        if (t, s) not in by:
            continue
        print(f"| {label} | {t} | {med(t, s, 'rps'):,.0f} | {med(t, s, 'p50_ms'):.2f} | {med(t, s, 'p99_ms'):.2f} "
              f"| {errors(t, s)} | {med(t, s, 'cpu_us_per_req'):.1f} | {med(t, s, 'redis_cpu_us_per_req'):.1f} | {med(t, s, 'redis_cmds_per_req'):.2f} | {rt(t, s)} |")

print()
print("Ratios uapi / peer (req/s: higher is better; CPU per request and p99: lower is better):")
print()
print("| scenario | peer | req/s | CPU µs/req | p99 |")
print("| --- | --- | ---: | ---: | ---: |")
for s, label in SCEN:
    if ("uapi", s) not in by:
        continue
    for p in TARGETS[1:]:
        if (p, s) not in by:
            continue
        print(f"| {label} | {p} | {med('uapi', s, 'rps') / med(p, s, 'rps'):.2f}× "
              f"| {med('uapi', s, 'cpu_us_per_req') / med(p, s, 'cpu_us_per_req'):.2f}× "
              f"| {med('uapi', s, 'p99_ms') / med(p, s, 'p99_ms'):.2f}× |")

print()
print("Targets (issue 6):")
print()


def check(name, ok, detail):
    if ok is None:
        print(f"- n/a: {name} ({detail})")
    else:
        print(f"- {'met' if ok else 'MISSED'}: {name} ({detail})")


def have(*keys):
    return all(k in by for k in keys)


if have(("uapi", "hello"), ("axum", "hello")):
    r = med("uapi", "hello", "rps") / med("axum", "hello", "rps")
    check("hello ≥ 1.0× axum req/s", r >= 1.0, f"{r:.2f}×")
if have(("uapi", "hello"), ("hyper", "hello")):
    r = med("uapi", "hello", "cpu_us_per_req") / med("hyper", "hello", "cpu_us_per_req")
    check("hello CPU/req within 10% of plain hyper", r <= 1.10, f"{r:.2f}×")
hello_peers = [p for p in PEERS if (p, "hello") in by]
if ("uapi", "hello") in by and hello_peers:
    bp = min(hello_peers, key=lambda p: med(p, "hello", "p99_ms"))
    q = med("uapi", "hello", "p99_ms") / med(bp, "hello", "p99_ms")
    check("hello p99 no worse than the best peer's", q <= 1.0, f"{q:.2f}× {bp}")
for s, label in SCEN[1:]:
    peers = [p for p in PEERS if (p, s) in by]
    if ("uapi", s) not in by or not peers:
        continue
    best = max(peers, key=lambda p: med(p, s, "rps"))
    r = med("uapi", s, "rps") / med(best, s, "rps")
    if s != "login":
        check(f"{label} ≥ 1.2× the best peer's req/s", r >= 1.2, f"{r:.2f}× {best}")
    else:
        print(f"- info: {label} {r:.2f}× the best peer's req/s ({best})")
    if s == "read":
        c = med("uapi", s, "cpu_us_per_req") / med(best, s, "cpu_us_per_req")
        check(f"{label} ≤ 0.8× the best peer's CPU/req", c <= 0.8, f"{c:.2f}× {best}")
    limit = {"read": 1, "write": 2, "login": 1}[s]
    try:
        n = float(rt("uapi", s))
        check(f"{label} ≤ {limit} Redis round trip(s)", n <= limit + 0.05, f"{n:g}")
    except ValueError:
        check(f"{label} ≤ {limit} Redis round trip(s)", None, "not probed")
    bp = min(peers, key=lambda p: med(p, s, "p99_ms"))
    q = med("uapi", s, "p99_ms") / med(bp, s, "p99_ms")
    check(f"{label} p99 no worse than the best peer's", q <= 1.0, f"{q:.2f}× {bp}")
errs = {k: errors(*k) for k in by if k[0] == "uapi"}
check("zero errors (uapi)", sum(errs.values()) == 0, f"{sum(errs.values())} errors")
