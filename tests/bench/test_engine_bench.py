"""``bench/engine.py --job simple`` runs end to end and Koppel's conversation with the applications is the minimal one.

A behaviour check of the requests, not a timing: the speed figures are printed by the benchmark itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {"orders", "koppel_s", "bare_s", "ratio", "records_per_s", "peak_rss_mb", "job"}
ONCE_PER_RUN = 5
"""Requests Koppel makes once per run, whatever the number of orders: the order count for the progress bar, the
keyset read's closing empty page, the VAT codes, the default debtor and the one check of a first run against a target
that may already hold bookings. At 10,000 orders they are 0.07 % of the conversation; at 200 orders 3 %."""


@pytest.mark.timeout(600)
def test_simple_job_holds_the_minimal_conversation() -> None:
    answer = subprocess.run(
        [sys.executable, "bench/engine.py", "--job", "simple", "--orders", "200", "--bare-wide", "0", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert answer.returncode == 0, answer.stderr[-2000:]
    result = json.loads(answer.stdout.strip().splitlines()[-1])
    assert CONTRACT | {"requests_koppel", "requests_bare"} <= result.keys()
    assert result["job"] == "simple" and result["orders"] == 200
    assert result["records"]["failed"] == 0 and result["records"]["ok"] == result["bare_records"] > 0
    # No request per invoice beyond its POST: what Koppel asks more is a handful per run, not per record.
    assert result["requests_koppel"] <= 1.01 * result["requests_bare"] + ONCE_PER_RUN
    by_kind = result["requests_by_kind"]  # request → [koppel, bare]
    posts = by_kind["POST /asperion/v1/salesinvoiceswithlines"]
    assert posts[0] == posts[1] == result["bare_records"]
    # Never "already there?" per invoice: only the administration's newest invoice, read at the start and at the end
    # of the run (a database restored from a backup is noticed by it).
    assert by_kind.get("GET /asperion/v1/salesinvoices", [0, 0])[0] <= 2
