"""Render BENCHMARKS.md from bench/results/*.json (`python -m bench.report [FOLDER]`).

`python -m bench` calls this at the end, so the document always shows the numbers of
the JSON files beside it. Where things are:

- `report.md.j2`: all of the document's prose, section by section. It reads the JSON
  values itself (`results.<name>`), through the filter `fmt`, which is Python's
  format(): `{{ x | fmt(",.0f") }}` is `f"{x:,.0f}"`.
- here: loading the JSON, the markdown tables (headers and cells), and for each section
  a dict of its tables and of the few values the template cannot read off the JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bench.common import POSTGRES_SETTINGS, RESULTS_DIR, ROOT

ENVIRONMENT = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
)
ENVIRONMENT.filters["fmt"] = format

NAMES = [
    "latency",
    "throughput",
    "trigger_cost",
    "sweep_cost",
    "baseline",
    "peer",
    "upstream",
    "traces",
    "floor",
]


def _load(results_dir: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for name in NAMES:
        path = results_dir / f"{name}.json"
        if path.exists():
            found[name] = json.loads(path.read_text())
    return found


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, bool):
            return "met" if value else "**not met**"
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        if isinstance(value, int):
            return f"{value:,}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _ms(value: float) -> str:
    return f"{value:,.2f} ms" if value < 1000 else f"{value / 1000:,.1f} s"


def _machine(results: dict[str, dict[str, Any]]) -> str:
    machine = next(iter(results.values()))["machine"]
    settings = machine.get("postgresql_settings", {})
    rows = [
        ["CPU", f"{machine['cpu_count']} x {machine['cpu_model']}"],
        ["memory", f"{machine['memory_gib']} GiB"],
        ["OS", machine["platform"]],
        ["Python", machine["python"]],
        ["PostgreSQL", f"{machine['postgresql']} ({machine['postgresql_server']})"],
        ["PostgreSQL settings", ", ".join(f"`{k}={v}`" for k, v in sorted(settings.items()))],
    ]
    code = machine.get("code")
    if code:
        state = {True: " (reactor/ or sql/ modified)", False: "", None: ""}[code.get("modified")]
        rows.append(["reactor code", f"commit `{code['commit'][:12]}`{state}"])
    loads = {
        name: data["machine"].get("load_average_at_start")
        for name, data in results.items()
        if data["machine"].get("load_average_at_start")
    }
    if loads:
        rows.append(
            [
                "load average (1, 5, 15 min) at start",
                "; ".join(f"{n}: {', '.join(f'{x:.2f}' for x in v)}" for n, v in loads.items()),
            ]
        )
    return _table(["", ""], rows)


def _commands(results: dict[str, dict[str, Any]]) -> str:
    lines = []
    for name, data in results.items():
        quick = " (--quick sizes)" if data.get("quick") else ""
        lines.append(f"| {name} | `{data['command']}`{quick} | {data['measured_at']} |")
    return "\n".join(["| results | command | measured at (UTC) |", "|---|---|---|", *lines])


def _summary(results: dict[str, dict[str, Any]]) -> str:
    rows: list[list[Any]] = []
    if lat := results.get("latency"):
        first = lat["latency_ms"]["first"]
        rows.append(["1. latency p50", _ms(first["p50"]), "≤ 3 ms", lat["met"]["p50"]])
        rows.append(["1. latency p99", _ms(first["p99"]), "≤ 8 ms", lat["met"]["p99"]])
    if tp := results.get("throughput"):
        one = _run(tp, 0, 1)
        if one:
            rows.append(
                [
                    "2. throughput at 0 ms, 1 process",
                    f"{one['deliveries_per_second']:,.0f} deliveries/s",
                    "> 680/s",
                    tp["met"].get("deliveries_per_second_at_0ms"),
                ]
            )
            rows.append(
                [
                    "2. … share of the bare SDK loop",
                    f"{tp['reactor_share_of_bare_loop_at_0ms']:.0%} of "
                    f"{tp['bare_loop']['deliveries_per_second']:,.0f}/s",
                    "≥ 80%",
                    tp["met"].get("share_of_bare_loop_at_0ms"),
                ]
            )
        for r in tp["runs"]:
            if r["provider_delay_ms"] >= 100:
                sizing = " (sizing run)" if r.get("sizing") else ""
                rows.append(
                    [
                        f"2. throughput at {r['provider_delay_ms']:g} ms, {r['processes']} "
                        f"process(es), SEND_CONCURRENCY {r['send_concurrency']}{sizing}",
                        f"{r['per_process_deliveries_per_second']:,.0f} deliveries/s per process",
                        "≥ 500/s per process",
                        r["per_process_deliveries_per_second"] >= 500,
                    ]
                )
        mem = tp["memory"]
        rows.append(
            ["5. peak RSS during 2", f"{mem['peak_rss_mb']:.0f} MB", "≤ 150 MB", mem["met"]]
        )
    if tc := results.get("trigger_cost"):
        for name, s in tc["scenarios"].items():
            rows.append(
                [
                    f"3. {name.replace('_', ' ')} ({tc['rows']:,} rows)",
                    f"x {s['ratio']:.2f}",
                    f"≤ x {s['target_ratio']}",
                    s["met"],
                ]
            )
    if sc := results.get("sweep_cost"):
        empty = sc["scenarios"][1]
        rows.append(
            [
                f"4. sweep pass, {empty['tables']['invoices']['rows']:,} invoices, nothing pending",
                _ms(empty["total_ms"]),
                "≤ 20 ms",
                sc["met"]["empty_pass_at_large_table"],
            ]
        )
    if bl := results.get("baseline"):
        comp = bl["comparison"]
        if "latency_p50_ratio" in comp:
            rows.append(
                [
                    "6. polling baseline: latency p50",
                    f"{_ms(bl['latency_ms']['first']['p50'])} (x {comp['latency_p50_ratio']:,.0f}"
                    " the listener's)",
                    "ratio reported",
                    "-",
                ]
            )
        if "throughput_ratio_listener_over_polling" in comp:
            rows.append(
                [
                    "6. polling baseline: bulk throughput",
                    f"{bl['bulk_deliveries_per_second']:,.0f} deliveries/s (listener x "
                    f"{comp['throughput_ratio_listener_over_polling']:,.1f})",
                    "ratio reported",
                    "-",
                ]
            )
    if peer := results.get("peer"):
        rows += _peer_summary(peer)
    if traced := results.get("traces"):
        ratios = traced["ratios"]
        rows.append(
            [
                "9. traces on / off",
                f"deliveries/s x {ratios['deliveries_per_second_on_over_off']:.2f}, "
                f"latency p50 x {ratios['latency_p50_on_over_off']:.2f}",
                "≥ x 0.90, ≤ x 1.10",
                traced["met"]["on_at_most_10pct_slower"],
            ]
        )
    if floor := results.get("floor"):
        ratio = floor["ratio"]
        rows.append(
            [
                "10. latency beside the floor",
                f"p50 x {ratio['p50']:.2f}, p99 x {ratio['p99']:.2f}",
                "p50 ≤ x 1.5, p99 ≤ x 2",
                floor["met"]["p50_within_1.5x"] and floor["met"]["p99_within_2x"],
            ]
        )
    return _table(["benchmark", "measured", "target", "result"], rows)


def _peer_summary(peer: dict[str, Any]) -> list[list[Any]]:
    """The side-by-side targets, one row each."""
    met = peer["met"]
    schemes = peer["schemes"]
    lat = ", ".join(
        f"{scheme.upper()} p50 x {side['latency_ratio']['p50']:.2f}, "
        f"p99 x {side['latency_ratio']['p99']:.2f}"
        for scheme, side in schemes.items()
    )
    rates = ", ".join(
        f"{scheme.upper()} {row['processes']} proc x {row['ratio']:.2f}"
        for scheme, side in schemes.items()
        for row in side["throughput"]
    )
    shakes = ", ".join(
        f"{row['processes']} proc {row['reactor_handshakes_per_1000_messages_per_process']:g}"
        for row in schemes["https"]["throughput"]
    )
    return [
        ["7. latency beside PGQueuer", lat, "≤ x 0.5", met["latency_p50_and_p99_at_most_0.5x"]],
        [
            "7. messages/s beside PGQueuer",
            rates,
            "≥ x 1.3",
            met["messages_per_second_at_least_1.3x"],
        ],
        [
            "7. TLS handshakes per 1,000 messages per process",
            shakes,
            "≤ 10",
            met["handshakes_at_most_10_per_1000_per_process"],
        ],
        [
            "7. latency p50, HTTPS over HTTP",
            f"x {peer['tls_latency_p50_over_plain']:.2f}",
            "≤ x 1.2",
            met["tls_latency_p50_at_most_1.2x_plain"],
        ],
    ]


HANDSHAKES_KEY = "_handshakes_per_1000_messages_per_process"


def _peer(peer: dict[str, Any]) -> dict[str, Any]:
    """Section 7: the issue's table (PGQueuer and the reactor, HTTP and HTTPS, one run)."""
    schemes = peer["schemes"]
    order = [(scheme, who) for scheme in schemes for who in ("peer", "reactor")]

    def latency(scheme: str, who: str, q: str) -> str:
        return _ms(schemes[scheme][f"{who}_latency"]["latency_ms"]["first"][q])

    rows: list[list[Any]] = [
        [f"latency {q} (commit -> first request)"] + [latency(s, w, q) for s, w in order]
        for q in ("p50", "p95", "p99")
    ]
    by_processes = {
        scheme: {row["processes"]: row for row in side["throughput"]}
        for scheme, side in schemes.items()
    }
    for processes in by_processes["http"]:
        rows.append(
            [f"messages/s, {processes} process(es)"]
            + [f"{by_processes[s][processes][f'{w}_messages_per_second']:,.0f}" for s, w in order]
        )
    for processes in by_processes["https"]:
        rows.append(
            [f"TLS handshakes per 1,000 messages per process, {processes} process(es)"]
            + [
                "-" if s == "http" else f"{by_processes[s][processes][w + HANDSHAKES_KEY]:g}"
                for s, w in order
            ]
        )
    headers = ["figure"] + [
        f"{'PGQueuer' if w == 'peer' else 'reactor'}, {s.upper()}" for s, w in order
    ]
    return {
        "table": _table(headers, rows),
        "transitions": schemes["http"]["reactor_latency"]["transitions"],
        "invoices": schemes["http"]["throughput"][0]["deliveries"] // 2,
    }


def _run(tp: dict[str, Any], delay: float, processes: int) -> dict[str, Any] | None:
    runs: list[dict[str, Any]] = tp["runs"]
    for r in runs:
        if r["provider_delay_ms"] == delay and r["processes"] == processes and not r.get("sizing"):
            return r
    return None


def _latency(lat: dict[str, Any], png: str | None) -> dict[str, Any]:
    """Section 1: the table, the verdict per channel, the provider calls and the histogram."""
    stats = lat["latency_ms"]
    rows = [
        [name, *(stats[key][p] for p in ("p50", "p95", "p99", "max", "mean"))]
        for name, key in (
            ("first provider request", "first"),
            ("email (SendGrid fake)", "email"),
            ("SMS (Twilio fake)", "sms"),
        )
    ]
    breakdown = lat.get("breakdown", {})
    extra = [
        ("commit -> the reactor's claiming statement starts", "commit_to_claim_ms"),
        ("claiming statement starts -> first request", "claim_to_first_request_ms"),
        ("the claiming statement alone (reactor stopped)", "claim_statement_alone_ms"),
    ]
    for label, key in extra:
        if key in breakdown:
            rows.append([label, *(breakdown[key][p] for p in ("p50", "p95", "p99", "max", "mean"))])
    for channel in ("email", "sms"):
        alone = breakdown.get("sdk_alone", {}).get(channel)
        if alone:
            rows.append(
                [
                    f"{channel} transport alone: send() called -> request received",
                    *(alone["call_to_request_ms"][p] for p in ("p50", "p95", "p99", "max", "mean")),
                ]
            )
    rows.append(
        [
            "(the UPDATE's COMMIT itself)",
            *(lat["commit_ms"][p] for p in ("p50", "p95", "p99", "max", "mean")),
        ]
    )
    inside = breakdown.get("provider_call_mean_in_reactor_ms")
    calls = None
    if inside and "sdk_alone" in breakdown:
        calls = [  # (channel, mean ms in the reactor, mean ms called alone)
            (c, inside.get(c, float("nan")), breakdown["sdk_alone"][c]["whole_call_ms"]["mean"])
            for c in ("email", "sms")
        ]
    return {
        "table": _table(["milliseconds", "p50", "p95", "p99", "max", "mean"], rows),
        "met_per_channel": lat.get("met_per_channel", {}),
        "provider_calls": calls,
        "png": png,
    }


def _throughput(tp: dict[str, Any]) -> dict[str, Any]:
    """Section 2: its tables, the repeated 0 ms run and the profile (None when absent)."""
    rows = []
    for r in tp["runs"]:
        rows.append(
            [
                f"{r['provider_delay_ms']:g}",
                r["processes"],
                r["send_concurrency"]
                if not r.get("sizing")
                else f"{r['send_concurrency']} (sizing)",
                r["seconds"],
                r["deliveries_per_second"],
                r["per_process_deliveries_per_second"],
                r["little_law_cap_per_second"] or "-",
                r["first_request_after_ms"],
                ", ".join(f"{m:.0f}" for m in r["peak_rss_mb"]),
                ", ".join(f"{n:,}" for n in r.get("sent_per_process", [])) or "-",
                r["duplicates"],
            ]
        )
    bare = tp["bare_loop"]
    repeated = [r for r in tp["runs"] if r.get("all_deliveries_per_second")]
    rows.append(
        [
            "0",
            "bare SDK loop",
            bare["send_concurrency"],
            bare["seconds"],
            bare["deliveries_per_second"],
            bare["deliveries_per_second"],
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
    )
    profile = tp.get("profile")
    return {
        "table": _table(
            [
                "provider delay ms",
                "processes",
                "SEND_CONCURRENCY",
                "seconds",
                "deliveries/s",
                "per process",
                "cap = concurrency / delay",
                "first request after ms",
                "peak RSS MB",
                "sent by each process",
                "duplicates",
            ],
            rows,
        ),
        "repeated": repeated[0] if repeated else None,
        "bare_runs": bare.get("all_deliveries_per_second", []),
        "cpu_table": _cpu(tp),
        "profile": profile,
        "profile_table": _profile(profile),
        "call_means_table": _call_means(tp),
    }


def _cpu(tp: dict[str, Any]) -> str:
    """CPU per delivery by component, each run and the bare loop."""
    rows = []
    for r in tp["runs"]:
        per = r["cpu_ms_per_delivery"]
        rows.append(
            [
                f"{r['provider_delay_ms']:g} ms, {r['processes']} proc, c={r['send_concurrency']}",
                per["reactor"],
                per["postgres"],
                per["bench_and_fakes"],
                per.get("other", "-"),
                per.get("steal", "-"),
                f"{r['cpu_utilisation_of_machine']:.0%}",
            ]
        )
    bare = tp["bare_loop"]
    rows.append(
        [
            "bare SDK loop, 0 ms",
            bare["cpu_ms_per_delivery"],
            "-",
            round(bare["cpu_seconds"]["bench_and_fakes"] * 1000 / bare["deliveries"], 3),
            round(bare["cpu_seconds"].get("other", float("nan")) * 1000 / bare["deliveries"], 3),
            round(bare["cpu_seconds"].get("steal", float("nan")) * 1000 / bare["deliveries"], 3),
            "-",
        ]
    )
    return _table(
        [
            "run",
            "reactor(s)",
            "PostgreSQL",
            "bench + fakes",
            "other processes",
            "stolen by the hypervisor",
            "machine busy (ours)",
        ],
        rows,
    )


def _profile(profile: dict[str, Any] | None) -> str | None:
    """Share of the GIL-holding samples per component (None without `--profile`)."""
    if not profile:
        return None
    return _table(
        ["component", "share of GIL-holding samples"],
        [[k, f"{v:.1%}"] for k, v in profile["components"].items()],
    )


def _call_means(tp: dict[str, Any]) -> str | None:
    """Mean provider call inside each reactor process, per run (None if not recorded)."""
    rows = []
    for r in tp["runs"]:
        for index, means in enumerate(r.get("provider_call_mean_ms") or []):
            rows.append(
                [
                    f"{r['provider_delay_ms']:g} ms, {r['processes']} proc, "
                    f"c={r['send_concurrency']}, process {index + 1}",
                    means.get("email", "-"),
                    means.get("sms", "-"),
                ]
            )
    return _table(["run", "email", "SMS"], rows) if rows else None


def _trigger(tc: dict[str, Any]) -> dict[str, Any]:
    """Section 3: its table, and the outbox write alone (NaN if not measured)."""
    rows = [
        [
            f"`{s['statement']}` (rows {s['rows_before']})",
            s["median_ms_triggers_on"],
            s["median_ms_triggers_off"],
            f"x {s['ratio']:.3f}",
            f"≤ x {s['target_ratio']}",
            s["met"],
        ]
        for s in tc["scenarios"].values()
    ]
    return {
        "table": _table(
            ["statement", "triggers on (ms)", "triggers off (ms)", "ratio", "target", "result"],
            rows,
        ),
        "outbox_insert_alone_ms": tc.get("outbox_insert_alone_ms", float("nan")),
    }


def _upstream(up: dict[str, Any]) -> dict[str, Any]:
    """Section 8: ratios to `none` per writer count, and latency by mode if measured."""
    writers = [str(w) for w in up["writers"]]
    results = up["results"]
    base = results["none"]
    rows = []
    for configuration, by_writers in results.items():
        row: list[Any] = [configuration]
        for w in writers:
            mine = by_writers[w]
            ratio = mine.get("ratio", mine["tps"] / base[w]["tps"])  # older runs: one round
            latency = mine.get("latency_ratio", mine["latency_ms"] / base[w]["latency_ms"])
            row.append(f"{ratio:.2f} ({mine['tps']:,.0f})")
            row.append(f"{latency:.2f}")
        rows.append(row)
    headers = ["configuration"]
    for w in writers:
        headers += [f"tps, {w} writer(s)", f"latency, {w}"]
    wal_rows = [
        [configuration, *(by_writers[w].get("wal_bytes_per_transaction") for w in writers)]
        for configuration, by_writers in results.items()
    ]
    measured_wal = all(value is not None for row in wal_rows for value in row[1:])
    return {
        "table": _table(headers, rows),
        "wal_table": _table(
            ["configuration", *(f"{w} writer(s)" for w in writers)],
            [[row[0], *(f"{value:,.0f}" for value in row[1:])] for row in wal_rows],
        )
        if measured_wal
        else None,
        "latency_table": _upstream_latency(up.get("latency_ms")),
    }


def _upstream_latency(latency: dict[str, dict[str, float]] | None) -> str | None:
    """Commit to first request, direct and replica mode (None if not measured)."""
    if not latency:
        return None
    direct = latency["direct"]
    rows = [
        [mode, s["p50"], s["p95"], s["p99"], s["n"], f"x {s['p50'] / direct['p50']:.2f}"]
        for mode, s in latency.items()
    ]
    return _table(["mode", "p50 ms", "p95 ms", "p99 ms", "samples", "p50 vs direct"], rows)


def _sweep(sc: dict[str, Any]) -> dict[str, Any]:
    """Section 4: time per statement of a pass, and the indexes the plans use."""
    queries = list(sc["scenarios"][0]["median_ms"])  # the statements of a pass, in order
    rows = [
        [
            s["scenario"],
            s["tables"]["invoices_in_review"],
            s["tables"].get("invoices_in_outbox", "-"),
            *(s["median_ms"][q] for q in queries),
            s["total_ms"],
        ]
        for s in sc["scenarios"]
    ]
    plan_rows = []
    labels = [s["scenario"] for s in sc["scenarios"]]
    for q in queries[1:]:
        indexes = sorted({i for s in sc["scenarios"] for i in s["plans"][q]["indexes"]})
        seqs = []
        for table in sorted({t for s in sc["scenarios"] for t in s["plans"][q]["seq_scans"]}):
            where = [s["scenario"] for s in sc["scenarios"] if table in s["plans"][q]["seq_scans"]]
            seqs.append(f"{table} ({'all scenarios' if where == labels else '; '.join(where)})")
        planning = max(s["plans"][q]["planning_ms"] or 0 for s in sc["scenarios"])
        plan_rows.append(
            [f"`{q}`", ", ".join(indexes) or "-", "<br>".join(seqs) or "none", planning]
        )
    return {
        "table": _table(["scenario", "in review", "in outbox", *queries, "total ms"], rows),
        "plan_table": _table(
            ["statement", "indexes", "sequential scans", "planning ms (max)"], plan_rows
        ),
    }


def _baseline(bl: dict[str, Any]) -> dict[str, Any]:
    """Section 6: polling beside the listener."""
    comp = bl["comparison"]
    stats = bl["latency_ms"]["first"]
    listener = comp.get("listener_latency_ms", {})
    rows = [
        [
            "latency p50",
            _ms(stats["p50"]),
            _ms(listener["p50"]) if listener else "-",
            f"x {comp.get('latency_p50_ratio', 0):,.0f}",
        ],
        [
            "latency p99",
            _ms(stats["p99"]),
            _ms(listener["p99"]) if listener else "-",
            f"x {comp.get('latency_p99_ratio', 0):,.0f}",
        ],
        ["latency max", _ms(stats["max"]), _ms(listener["max"]) if listener else "-", ""],
        [
            "bulk: deliveries/s, COMMIT to last delivery",
            f"{bl['bulk_deliveries_per_second']:,.1f}",
            f"{comp.get('listener_deliveries_per_second', '-'):,}",
            f"listener x {comp.get('throughput_ratio_listener_over_polling', 0):,.1f}",
        ],
        [
            "bulk: first request after the COMMIT",
            f"{bl['first_bulk_request_after_seconds']:,.1f} s",
            "",
            "",
        ],
        [
            "bulk: sending rate once picked up",
            f"{bl['bulk_sending_rate_once_picked_up']:,.0f}/s",
            "",
            "",
        ],
    ]
    return {"table": _table(["measured", "polling", "listener (this run)", "ratio"], rows)}


def _traces(traced: dict[str, Any]) -> dict[str, Any]:
    """Section 9: tracing off and on, the medians of alternating blocks."""
    medians = traced["medians"]
    rows = [
        [
            mode,
            f"{medians['deliveries_per_second'][mode]:,.0f}",
            f"{medians['reactor_cpu_ms_per_delivery'][mode]:.3f}",
            _ms(medians["latency_p50_ms"][mode]),
            _ms(medians["latency_p99_ms"][mode]),
        ]
        for mode in ("off", "on")
    ]
    headers = ["tracing", "deliveries/s", "reactor CPU ms/delivery", "latency p50", "p99"]
    return {"table": _table(headers, rows)}


def _floor(floor: dict[str, Any]) -> dict[str, Any]:
    """Section 10: the reactor beside the floor program, and where its extra time goes."""
    stats, split = floor["latency_ms"], floor["reactor_breakdown"]
    rows = [
        [who, _ms(s["p50"]), _ms(s["p95"]), _ms(s["p99"]), _ms(s["mean"])]
        for who, s in stats.items()
    ]
    rows.append(
        ["reactor / floor", *(f"x {floor['ratio'][q]:.2f}" for q in ("p50", "p95", "p99")), "-"]
    )
    parts = [
        [
            "commit -> the reactor's claiming statement starts",
            _ms(split["commit_to_claim_ms"]["p50"]),
        ],
        ["claiming statement -> the request", _ms(split["claim_to_first_request_ms"]["p50"])],
    ]
    if extra := floor.get("extra_p50"):
        parts += [
            [
                "the reactor's p50 over the floor's: its claiming statement",
                _ms(extra["claiming_statement_ms"]),
            ],
            [
                "... and the rest of the reactor (hand-offs, rendering, the SDK)",
                _ms(extra["rest_of_the_reactor_ms"]),
            ],
        ]
    return {
        "table": _table(["program", "p50", "p95", "p99", "mean"], rows),
        "split": _table(["the reactor's p50, split", "ms"], parts),
    }


def render(results_dir: Path, out: Path) -> str:
    """The document for the results in `results_dir`, to be written to `out`."""
    template = ENVIRONMENT.get_template("report.md.j2")
    results = _load(results_dir)
    if not results:
        return template.render(results=results)
    png_path = results_dir / "latency.png"
    png = os.path.relpath(png_path, out.parent) if png_path.exists() else None
    notes = results_dir / "NOTES.md"
    return template.render(
        results=results,
        commands=_commands(results),
        machine=_machine(results),
        other_settings=", ".join(
            f"`{k}={v}`"
            for k, v in POSTGRES_SETTINGS.items()
            if k not in ("fsync", "synchronous_commit", "full_page_writes")
        ),
        summary=_summary(results),
        latency=_latency(lat, png) if (lat := results.get("latency")) else None,
        throughput=_throughput(tp) if (tp := results.get("throughput")) else None,
        trigger_cost=_trigger(tc) if (tc := results.get("trigger_cost")) else None,
        sweep_cost=_sweep(sc) if (sc := results.get("sweep_cost")) else None,
        baseline=_baseline(bl) if (bl := results.get("baseline")) else None,
        peer=_peer(peer) if (peer := results.get("peer")) else None,
        upstream=_upstream(up) if (up := results.get("upstream")) else None,
        traces=_traces(tr) if (tr := results.get("traces")) else None,
        floor=_floor(fl) if (fl := results.get("floor")) else None,
        notes=notes.read_text().strip() if notes.exists() else None,
    )


def main(results_dir: Path | None = None) -> Path:
    """Write BENCHMARKS.md (or results_dir/BENCHMARKS.md for a non-default folder)."""
    results_dir = (results_dir or RESULTS_DIR).resolve()
    out = ROOT / "BENCHMARKS.md" if results_dir == RESULTS_DIR else results_dir / "BENCHMARKS.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results_dir, out))
    print(f"bench: wrote {out}", file=sys.stderr)
    return out


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
