"""`python -m benchmarks` end to end at a tiny size: a portfolio imported, the three servers started and
answering, the jobs scanned, one Markdown table with every column filled. Times are never asserted here:
speed is measured by the benchmark itself, not by the test suite."""

from __future__ import annotations

import os

import pytest

from tests.conftest import TEST_DATABASE_ENV

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak RSS from /proc")


def test_the_benchmark_writes_one_table_with_every_column(tmp_path, capsys):
    from benchmarks import __main__ as bench
    from benchmarks.job_scans import feature_jobs

    output = tmp_path / "RESULTS.md"
    argv = ["--sizes", "5x50", "--rounds", "3", "--warmup", "1", "--output", str(output)]
    if os.environ.get(TEST_DATABASE_ENV):
        argv += ["--database", "postgresql", "--database-url", os.environ[TEST_DATABASE_ENV]]
    assert bench.main(argv) == 0

    written = output.read_text()
    assert written in capsys.readouterr().out  # printed and written: the same table
    lines = written.splitlines()
    assert lines[0].startswith("### Rapport benchmark, ")
    machine = lines[2]
    assert "CPUs" in machine and "Python 3." in machine
    assert ("PostgreSQL" if os.environ.get(TEST_DATABASE_ENV) else "SQLite") in machine

    table = [line for line in lines if line.startswith("|")]
    assert len(table) == 3  # header, alignment, one size
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == bench.columns(feature_jobs())
    assert len(feature_jobs()) >= 6 and {"stale-nudges", "meeting-reminders", "delay-followups",
                                         "weekly-digest"} <= set(feature_jobs())
    for wanted in ("import s", "log p50/p95/p99 ms", "status client p50/p99 ms", "status portfolio p50/p99 ms",
                   "bare p50 ms (pbr / plain)", "log ÷ bare", "status ÷ bare", "stale s", "mtg-rem s", "delay s",
                   "digest s", "server RSS MB", "job RSS MB"):
        assert wanted in header
    row = [cell.strip() for cell in table[2].strip("|").split("|")]
    assert len(row) == len(header)
    assert row[0] == "5 × 50"
    assert all(cell and cell != "–" and "nan" not in cell for cell in row), row  # every column measured
    # what the setup added and the scans planned is said under the table
    assert any(line.startswith("- 5 × 50: setup added 1 changes, 3 meetings, 2 promises") for line in lines)


def test_sizes_are_parsed_and_bad_ones_refused(capsys):
    from benchmarks import __main__ as bench
    from benchmarks.portfolio import Size

    args = bench.parse_args(["--sizes", "100x10000,1000x1_000_000"])
    assert args.sizes == [Size(100, 10_000), Size(1000, 1_000_000)]
    assert args.database_url is None
    assert bench.parse_args(["--database", "postgresql"]).database_url == bench.DEFAULT_POSTGRESQL
    for bad in ("100", "0x10", "ax10"):
        with pytest.raises(SystemExit):
            bench.parse_args(["--sizes", bad])
        assert "--sizes" in capsys.readouterr().err


def test_percentiles_are_nearest_rank():
    from benchmarks.latency import percentile

    values = list(range(100, 0, -1))
    assert (percentile(values, 50), percentile(values, 95), percentile(values, 99)) == (50, 95, 99)
    assert percentile([7.0], 99) == 7.0
