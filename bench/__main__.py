"""`python -m bench`: run the benchmarks, write bench/results/*.json and BENCHMARKS.md."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import (
    baseline,
    common,
    floor,
    latency,
    peer,
    report,
    sweep_cost,
    throughput,
    traces,
    trigger_cost,
    upstream,
)
from bench.common import (
    RESULTS_DIR,
    Context,
    Options,
    Postgres,
    Providers,
    field_default,
    machine_info,
    remove_work_dir,
    say,
    work_dir,
)

BENCHMARKS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "latency": latency.run,
    "throughput": throughput.run,
    "trigger": trigger_cost.run,
    "sweep": sweep_cost.run,
    "baseline": baseline.run,  # compares with this run's latency and throughput
    "peer": peer.run,  # PGQueuer beside the reactor, over HTTP and HTTPS ([bench] extra)
    "upstream": upstream.run,  # the upstream's writers, 1/16/64 at once, pinned apart
    "traces": traces.run,  # tracing off and on, alternating blocks
    "floor": floor.run,  # one invoice's latency beside the least a program can do
}
DEFAULT_RUN = list(BENCHMARKS)


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.isupper():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def _names(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown benchmark {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})"
        )
    return names


def parser() -> argparse.ArgumentParser:
    """The command line."""
    default_concurrency = field_default("send_concurrency")
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of invoice-reactor against a real PostgreSQL (embedded, or "
        "the server of DATABASE_URL, whose role needs CREATEDB) and fake providers on "
        "127.0.0.1, with the reactor running as its own process.",
    )
    p.add_argument(
        "--only",
        type=_names,
        default=DEFAULT_RUN,
        metavar="LIST",
        help=f"comma-separated subset of: {','.join(BENCHMARKS)} (default: all)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes, for developing the bench")
    p.add_argument(
        "--delay-ms",
        type=_floats,
        default=[0.0, 100.0],
        metavar="LIST",
        help="provider response delays for the throughput benchmark (default: 0,100)",
    )
    p.add_argument(
        "--processes",
        type=_ints,
        default=[1, 2],
        metavar="LIST",
        help="reactor process counts for the throughput benchmark (default: 1,2)",
    )
    p.add_argument(
        "--writers",
        type=_ints,
        default=[1, 16, 64],
        metavar="LIST",
        help="upstream writer counts for the upstream benchmark (default: 1,16,64)",
    )
    p.add_argument(
        "--concurrency",
        type=_ints,
        default=[default_concurrency],
        metavar="LIST",
        help=f"SEND_CONCURRENCY of the reactors and the bare loop; the first is used by the "
        f"other benchmarks (default: the reactor's default, {default_concurrency})",
    )
    p.add_argument(
        "--sizing-concurrency",
        type=int,
        default=128,
        metavar="N",
        help="also run one process at each non-zero delay with this SEND_CONCURRENCY, to "
        "show what a slow provider needs (default: 128; 0 to skip)",
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=3,
        metavar="N",
        help="repetitions of the 0 ms one-process run and the bare loop, alternating, and "
        "rounds of the upstream benchmark; the medians are compared (default: 3; 1 with "
        "--quick)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="one extra, unreported throughput run at 0 ms under py-spy "
        "(its GIL breakdown goes into throughput.json)",
    )
    p.add_argument(
        "--results-dir",
        type=Path,
        default=None,
        help="where the JSON goes (default: bench/results, or bench/results/quick with --quick)",
    )
    p.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for every benchmarked reactor, e.g. DATABASE_PREPARED_STATEMENTS=true "
        "(repeatable)",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="the fake providers serve HTTPS (a throwaway CA); handshakes are counted",
    )
    p.add_argument(
        "--reactor-tree",
        type=Path,
        default=None,
        metavar="DIR",
        help="run the benchmarked reactors from another checkout (e.g. a git worktree of an "
        "older commit), to compare two versions in one session",
    )
    p.add_argument(
        "--compare-tree",
        type=Path,
        default=None,
        metavar="DIR",
        help="floor only: also run the reactor of another checkout, in the same alternating "
        "blocks (an A/B of two versions within one run)",
    )
    p.add_argument("--no-report", action="store_true", help="do not render BENCHMARKS.md")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; exit 1 if any of them failed to run."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    # SIGTERM (or SIGINT in a background job, where it is ignored) must still stop the
    # reactors and the embedded server: turn it into SystemExit so that cleanup runs.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results_dir = args.results_dir or (RESULTS_DIR / "quick" if args.quick else RESULTS_DIR)
    options = Options(
        quick=args.quick,
        delays_ms=args.delay_ms,
        processes=args.processes,
        writers=args.writers,
        concurrency=args.concurrency,
        sizing_concurrency=args.sizing_concurrency,
        results_dir=results_dir.resolve(),
        command=shlex.join(["python", "-m", "bench", *argv]),
        profile=args.profile,
        repeat=max(1, args.repeat),
        settings=dict(args.set),
        tls=args.tls,
    )
    common.REACTOR_TREE = args.reactor_tree.resolve() if args.reactor_tree else None
    common.COMPARE_TREE = args.compare_tree.resolve() if args.compare_tree else None
    scratch = work_dir()
    postgres = Postgres(scratch)
    failed: list[str] = []
    started = time.monotonic()
    try:
        say(f"starting PostgreSQL ({postgres.kind}); scratch folder {scratch}")
        postgres.start()
        with Providers(scratch / "tls" if args.tls else None) as providers:
            ctx = Context(options, postgres, providers, scratch, machine_info(postgres))
            for name in args.only:
                say(f"--- {name}")
                try:
                    BENCHMARKS[name](ctx)
                except Exception:
                    traceback.print_exc()
                    failed.append(name)
    finally:
        postgres.stop()
    say(f"done in {time.monotonic() - started:.0f} s")
    if not args.no_report:
        report.main(results_dir)
    if failed:
        say(f"FAILED: {', '.join(failed)}; reactor logs kept in {scratch / 'logs'}")
        return 1
    remove_work_dir(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
