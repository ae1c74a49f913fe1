"""Summarizes bench/run.sh's raw.tsv (and idle.tsv, if given): medians per
target and scenario, the ratios uapi/peer, p99 against the best peer's, the
replica wait's cost, memory per idle connection, and the issue's targets (met
or missed).

usage: summarize.py RAW_TSV [IDLE_TSV]"""

import csv
import os
import re
import statistics
import sys
from collections import defaultdict

rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = defaultdict(list)
for r in rows:
    by[(r["target"], r["scenario"])].append(r)

KIND = {"hello": "hello (GET /hello)", "read": "session read (GET /)",
        "write": "session write (POST /touch)", "login": "login (POST /login)"}


def parse(s):
    """A scenario's kind, keys (0: not filled) and connections (None: CONNS)."""
    m = re.fullmatch(r"(hello|read|write|login)(?:-k(\d+))?(?:-c(\d+))?", s)
    return (m.group(1), int(m.group(2) or 0), int(m.group(3)) if m.group(3) else None) if m else (s, 0, None)


def describe(s):
    kind, keys, conns = parse(s)
    if kind not in KIND:
        return s
    if not keys and not conns:
        return KIND[kind]
    extra = [f"{keys} keys"] * bool(keys) + [f"{conns} connections"] * bool(conns)
    return f"{KIND[kind].split(' (')[0]} ({', '.join(extra)})"


# In the order the run took them (SCENARIOS' order).
ORDER = list(dict.fromkeys(r["scenario"] for r in rows))
SCEN = [(s, describe(s)) for s in ("hello", "read", "write", "login")]
ALL = [(s, describe(s)) for s in ORDER]
# Large sessions: read-kN / write-kN, the session filled with N keys of 100 bytes.
KEYS = sorted({parse(s)[1] for s in ORDER if parse(s)[1] and parse(s)[2] is None})
LARGE = [(f"{op}-k{n}", describe(f"{op}-k{n}")) for n in KEYS for op in ("read", "write")]
TARGETS = ["uapi", "uapi-lazy", "uapi-mt", "uapi-pl", "uapi-wait", "axum", "actix", "hyper"]
OURS = ["uapi", "uapi-lazy", "uapi-mt", "uapi-pl", "uapi-wait"]
PEERS = ["axum", "actix"]


def med(t, s, k):
    v = [float(r[k]) for r in by.get((t, s), []) if r[k] != ""]
    return statistics.median(v) if v else None


def paired(t, p, s, k):
    """The median over rounds of t's figure over p's in the same round: runs
    are interleaved, so a round's ratio cancels the machine's slow drifts."""
    a = {r["round"]: float(r[k]) for r in by.get((t, s), []) if r[k] != ""}
    b = {r["round"]: float(r[k]) for r in by.get((p, s), []) if r[k] != ""}
    v = [a[r] / b[r] for r in a if r in b and b[r]]
    return statistics.median(v) if v else None


def errors(t, s):
    return sum(int(r["errors"]) for r in by.get((t, s), []))


def rt(t, s):
    v = [r["redis_round_trips"] for r in by.get((t, s), []) if r["redis_round_trips"] != ""]
    return v[0] if v else "-"


def num(t, s, k, fmt):
    v = med(t, s, k) if rows and k in rows[0] else None
    return "-" if v is None else format(v, fmt)


if rows:
    print("| scenario | target | req/s | p50 ms | p99 ms | errors | CPU µs/req | Redis CPU µs/req | Redis cmds/req | Redis round trips/req | Redis bytes/req |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for s, label in ALL:
    for t in TARGETS:
        if (t, s) not in by:
            continue
        print(f"| {label} | {t} | {med(t, s, 'rps'):,.0f} | {med(t, s, 'p50_ms'):.2f} | {med(t, s, 'p99_ms'):.2f} "
              f"| {errors(t, s)} | {med(t, s, 'cpu_us_per_req'):.1f} | {med(t, s, 'redis_cpu_us_per_req'):.1f} | {med(t, s, 'redis_cmds_per_req'):.2f} | {rt(t, s)} "
              f"| {num(t, s, 'redis_bytes_per_req', ',.0f')} |")

if KEYS:
    print()
    print("Growth with the session (N keys of 100 bytes): req/s, server CPU µs/req, Redis bytes/req")
    print()
    present = [t for t in TARGETS if any((t, s) in by for s, _ in LARGE)]
    print("| scenario | " + " | ".join(present) + " |")
    print("| --- | " + " | ".join("---:" for _ in present) + " |")
    for s, label in LARGE:
        cells = []
        for t in present:
            if (t, s) in by:
                cells.append(f"{med(t, s, 'rps'):,.0f} ({med(t, s, 'cpu_us_per_req'):.1f} µs, "
                             f"{num(t, s, 'redis_bytes_per_req', ',.0f')} B)")
            else:
                cells.append("-")
        print(f"| {label} | " + " | ".join(cells) + " |")

if rows:
    print()
    print("Ratios ours / peer, of the medians (req/s: higher is better; CPU per request and p99: lower")
    print("is better), then the median of the per-round ratios (runs are interleaved, so these cancel drifts):")
    print()
    print("| scenario | ours | peer | req/s | CPU µs/req | p99 | req/s, per round | CPU, per round |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
for s, label in ALL:
    for o in OURS:
        if (o, s) not in by:
            continue
        for p in PEERS + ["hyper"]:
            if (p, s) not in by:
                continue
            print(f"| {label} | {o} | {p} | {med(o, s, 'rps') / med(p, s, 'rps'):.2f}× "
                  f"| {med(o, s, 'cpu_us_per_req') / med(p, s, 'cpu_us_per_req'):.2f}× "
                  f"| {med(o, s, 'p99_ms') / med(p, s, 'p99_ms'):.2f}× "
                  f"| {paired(o, p, s, 'rps'):.2f}× | {paired(o, p, s, 'cpu_us_per_req'):.2f}× |")


ours_here = [o for o in OURS if any(k[0] == o for k in by)]


def best_p99(s):
    """The peer (axum or actix) with the lower median p99 in scenario s."""
    peers = [p for p in PEERS if (p, s) in by]
    return min(peers, key=lambda p: med(p, s, "p99_ms")) if peers else None


if ours_here and any(best_p99(s) for s in ORDER):
    print()
    print("Tail latency: p99 of each of ours against the best peer's (the lower of axum's and actix's),")
    print("in ms, with the ratio (≤ 1.00× meets the issue's tail target):")
    print()
    print("| scenario | best peer p99 | " + " | ".join(ours_here) + " |")
    print("| --- | ---: | " + " | ".join("---:" for _ in ours_here) + " |")
    met = defaultdict(list)
    for s, label in ALL:
        bp = best_p99(s)
        if not bp:
            continue
        cells = []
        for o in ours_here:
            if (o, s) not in by:
                cells.append("-")
                continue
            q = med(o, s, "p99_ms") / med(bp, s, "p99_ms")
            met[o].append((s, q <= 1.0))
            cells.append(f"{med(o, s, 'p99_ms'):.2f} ({q:.2f}×)")
        print(f"| {label} | {med(bp, s, 'p99_ms'):.2f} {bp} | " + " | ".join(cells) + " |")
    print("| **at or under the best peer** | | " + " | ".join(
        f"{sum(ok for _, ok in met[o])} of {len(met[o])}" for o in ours_here) + " |")
    misses = [(o, [s for s, ok in met[o] if not ok]) for o in ours_here]
    if any(m for _, m in misses):
        print()
        for o, m in misses:
            if m:
                print(f"- {o} is over the best peer's p99 in: {', '.join(m)}")

WAITED = [(s, label) for s, label in ALL if ("uapi-wait", s) in by and ("uapi", s) in by]
if WAITED:
    print()
    print("The replica wait's cost: uapi-wait (uapi with WAIT 1 100 after every session write) against")
    print("uapi, one replica attached for both (uapi → uapi-wait; the ratio also per round):")
    print()
    print("| scenario | req/s | ratio | per round | p50 ms | p99 ms | CPU µs/req | Redis CPU µs/req | Redis cmds/req | errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s, label in WAITED:
        def pair(k, fmt):
            return f"{format(med('uapi', s, k), fmt)} → {format(med('uapi-wait', s, k), fmt)}"
        print(f"| {label} | {pair('rps', ',.0f')} | {med('uapi-wait', s, 'rps') / med('uapi', s, 'rps'):.2f}× "
              f"| {paired('uapi-wait', 'uapi', s, 'rps'):.2f}× | {pair('p50_ms', '.2f')} | {pair('p99_ms', '.2f')} "
              f"| {pair('cpu_us_per_req', '.1f')} | {pair('redis_cpu_us_per_req', '.1f')} | {pair('redis_cmds_per_req', '.2f')} "
              f"| {errors('uapi', s)} → {errors('uapi-wait', s)} |")

IDLE = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(sys.argv[1]), "idle.tsv")
idle = list(csv.DictReader(open(IDLE), delimiter="\t")) if os.path.exists(IDLE) else []
if idle:
    iby = defaultdict(list)
    for r in idle:
        iby[(r["target"], r["scenario"])].append(r)

    def imed(t, s, k):
        return statistics.median(float(r[k]) for r in iby[(t, s)])

    print()
    print("Memory per idle keep-alive connection: the server's VmRSS before the connections and once they")
    print("are all answered (one GET /hello each) and idle, (after - before) / opened, medians; still open:")
    print("the fewest the server still held after the second read, over rounds (all of them, or the figure")
    print("is suspect); ours / best peer: against the lower of axum's and actix's.")
    print()
    print("| scenario | target | KiB per connection | ours / best peer | RSS before MiB | RSS with them MiB "
          "| opened | failed | still open | seconds to open |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in dict.fromkeys(r["scenario"] for r in idle):
        peers = [p for p in PEERS if (p, s) in iby]
        bp = min(peers, key=lambda p: imed(p, s, "kib_per_conn")) if peers else None
        for t in TARGETS:
            if (t, s) not in iby:
                continue
            rs = iby[(t, s)]
            ratio = f"{imed(t, s, 'kib_per_conn') / imed(bp, s, 'kib_per_conn'):.2f}× {bp}" if bp and t in OURS else ""
            print(f"| {s} | {t} | {imed(t, s, 'kib_per_conn'):.1f} | {ratio} "
                  f"| {imed(t, s, 'rss_before_kib') / 1024:.1f} | {imed(t, s, 'rss_after_kib') / 1024:.1f} "
                  f"| {min(int(r['opened']) for r in rs):,} | {sum(int(r['failed']) for r in rs)} "
                  f"| {min(int(r['still_open']) for r in rs):,} | {imed(t, s, 'open_secs'):.2f} |")


def check(name, ok, detail):
    if ok is None:
        print(f"- n/a: {name} ({detail})")
    else:
        print(f"- {'met' if ok else 'MISSED'}: {name} ({detail})")


def have(*keys):
    return all(k in by for k in keys)


def targets(u):
    """The issue's targets for one of our configurations, on the medians."""
    if have((u, "hello"), ("axum", "hello")):
        r = med(u, "hello", "rps") / med("axum", "hello", "rps")
        check("hello ≥ 1.0× axum req/s", r >= 1.0, f"{r:.3f}×")
    if have((u, "hello"), ("hyper", "hello")):
        r = med(u, "hello", "cpu_us_per_req") / med("hyper", "hello", "cpu_us_per_req")
        check("hello CPU/req within 10% of plain hyper", r <= 1.10,
              f"{r:.3f}×; per round {paired(u, 'hyper', 'hello', 'cpu_us_per_req'):.2f}×")
    hello_peers = [p for p in PEERS if (p, "hello") in by]
    if (u, "hello") in by and hello_peers:
        bp = min(hello_peers, key=lambda p: med(p, "hello", "p99_ms"))
        q = med(u, "hello", "p99_ms") / med(bp, "hello", "p99_ms")
        check("hello p99 no worse than the best peer's", q <= 1.0, f"{q:.2f}× {bp}")
    for s, label in SCEN[1:]:
        peers = [p for p in PEERS if (p, s) in by]
        if (u, s) not in by or not peers:
            continue
        best = max(peers, key=lambda p: med(p, s, "rps"))
        r = med(u, s, "rps") / med(best, s, "rps")
        detail = f"{r:.3f}× {best}; per round {paired(u, best, s, 'rps'):.2f}×"
        if s != "login":
            check(f"{label} ≥ 1.2× the best peer's req/s", r >= 1.2, detail)
        else:
            print(f"- info: {label} {detail} the best peer's req/s")
        if s == "read":
            c = med(u, s, "cpu_us_per_req") / med(best, s, "cpu_us_per_req")
            check(f"{label} ≤ 0.8× the best peer's CPU/req", c <= 0.8,
                  f"{c:.3f}× {best}; per round {paired(u, best, s, 'cpu_us_per_req'):.2f}×")
        limit = {"read": 1, "write": 2, "login": 1}[s]
        try:
            n = float(rt(u, s))
            check(f"{label} ≤ {limit} Redis round trip(s)", n <= limit + 0.05, f"{n:g}")
        except ValueError:
            check(f"{label} ≤ {limit} Redis round trip(s)", None, "not probed")
        bp = min(peers, key=lambda p: med(p, s, "p99_ms"))
        q = med(u, s, "p99_ms") / med(bp, s, "p99_ms")
        check(f"{label} p99 no worse than the best peer's", q <= 1.0, f"{q:.2f}× {bp}")
    for s, label in LARGE:
        peers = [p for p in PEERS if (p, s) in by]
        if (u, s) not in by or not peers:
            continue
        best = max(peers, key=lambda p: med(p, s, "rps"))
        r = med(u, s, "rps") / med(best, s, "rps")
        if s.startswith("write"):
            check(f"{label} ≥ 2× the best peer's req/s", r >= 2.0, f"{r:.3f}× {best}")
            if "redis_bytes_per_req" in rows[0]:
                b = med(u, s, "redis_bytes_per_req") / med(best, s, "redis_bytes_per_req")
                check(f"{label} ≤ 0.2× the best peer's Redis bytes/req", b <= 0.2, f"{b:.3f}× {best}")
        else:
            print(f"- info: {label} {r:.3f}× {best}'s req/s")
    errs = sum(errors(*k) for k in by if k[0] == u)
    check(f"zero errors ({u})", errs == 0, f"{errs} errors")


for u, how in [("uapi", "on Workers, one thread per core, redis-rs ConnectionManager"),
               ("uapi-mt", "on the multi-thread runtime, redis-rs ConnectionManager"),
               ("uapi-pl", "on Workers, uapi's PipelinedConnection"),
               ("uapi-lazy", "on Workers, redis-rs ConnectionManager, GET / and POST /touch on a LazySession")]:
    if any(k[0] == u for k in by):
        print()
        print(f"Targets (issue 6), {u} ({how}), judged on the medians:")
        print()
        targets(u)
