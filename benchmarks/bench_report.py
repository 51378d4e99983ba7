"""The benchmark's printed table (the JSON results file holds everything, including every round)."""

from __future__ import annotations

import argparse
from typing import Any

HEADER = (f"{'target':<50}{'req/s':>9}{'p50 ms':>8}{'p90 ms':>8}{'p99 ms':>8}{'+p50@1c':>9}"
          f"{'x nginx':>8}{'RSS MB':>8}{'CPU %':>7}{'req/core-s':>11}{'x nginx':>8}{'non-2xx':>8}")


def _row(desc: str, m: dict[str, float], added: str, ratio: str, core_ratio: str) -> str:
    return (f"{desc:<50}{m['rps']:>9,.0f}{m['p50_ms']:>8.3f}{m['p90_ms']:>8.3f}{m['p99_ms']:>8.3f}{added:>9}"
            f"{ratio:>8}{m['rss_mb']:>8.1f}{m['cpu_pct']:>7.0f}{m['rps_per_core']:>11,.0f}{core_ratio:>8}"
            f"{m['non_2xx']:>8.0f}")


def workload_rows(wl: dict[str, Any], descs: dict[str, str]) -> list[str]:
    med, single = wl["medians"], wl["single_connection"]
    nginx_rps = med.get("nginx", {}).get("rps", 0.0)
    nginx_core = med.get("nginx", {}).get("rps_per_core", 0.0)
    direct_p50 = single.get("direct", {}).get("p50_ms")
    rows = []
    for name, m in med.items():
        added = "-" if name == "direct" or direct_p50 is None else f"{single[name]['p50_ms'] - direct_p50:+.3f}"
        ratio = f"{m['rps'] / nginx_rps:.3f}" if nginx_rps and name != "direct" else "-"
        core_ratio = f"{m['rps_per_core'] / nginx_core:.3f}" if nginx_core and name != "direct" else "-"
        rows.append(_row(descs.get(name, name), m, added, ratio, core_ratio))
    if direct_p50 is not None:
        rows.append(f"{'':<4}(1-connection p50 direct: {direct_p50:.3f} ms; +p50@1c = target's minus that)")
    return rows


def print_table(results: dict[str, Any], titles: dict[str, str], args: argparse.Namespace) -> None:
    print(f"\nwrk -t1 -c{args.connections}, {args.rounds} alternating round(s) x {args.duration} s, medians; "
          f"1-connection runs {args.latency_duration} s; pinning: {results['machine']['pinning']}")
    print("RSS and CPU are the proxy's own process (for 'direct': the upstream nginx); CPU % of one core;\n"
          "req/core-s = req/s per CPU-second of that process (robust to CPU stolen by other processes).")
    print(HEADER)
    for name, title in titles.items():
        print(f"-- {title}")
        for row in workload_rows(results["workloads"][name], results.get("targets", {})):
            print(row)


def print_extras(results: dict[str, Any], args: argparse.Namespace) -> None:
    fixed = results.get("fixed_rate")
    if fixed:
        print(f"\nfixed rate (open loop, Python generator, latency from each request's due time), "
              f"{args.fixed_rate:,.0f} req/s for {args.fixed_duration:g} s, OpenAI chat non-streaming:")
        for name, r in fixed.items():
            print(f"  {name:<9} achieved {r['achieved_rate']:>7,.0f}/s  p50 {r['p50_ms']:.3f}  p90 {r['p90_ms']:.3f}  "
                  f"p99 {r['p99_ms']:.3f}  max {r['max_ms']:.3f} ms  non-2xx {r['non_2xx']}  errors {r['errors']}  "
                  f"CPU {r['cpu_pct']:.0f}%  RSS {r['rss_mb']:.1f} MB  (generator CPU {r['generator_cpu_pct']:.0f}%, "
                  f"{r['connections_used']} conns)")
    idle = results.get("idle")
    if idle:
        print(f"\nidle keep-alive connections ({idle['target']}): {idle['open']} of {idle['requested']} held "
              f"(open-files limit {idle['nofile_limit']}), errors {idle['errors']}, "
              f"reuse after {args.idle_hold:g} s idle: {idle['final_reuse_ok']}/{idle['final_reused']} ok; "
              f"RSS {idle['rss_before_mb']:.1f} MB before, {idle['rss_holding_mb']:.1f} MB holding, "
              f"{idle['rss_after_mb']:.1f} MB after closing")
    sink = results.get("otlp_sink")
    if sink:
        print(f"\ntracing: the OTLP sink received {sink.get('exports', '?')} exports "
              f"({sink.get('bytes', 0) / 1e6:.1f} MB of spans)")
