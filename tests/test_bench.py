"""Each benchmark, once, at a tiny size: a schema or settings change that would break `make bench`
breaks `make test` instead. The figures mean nothing at this size; only that every step runs.

Each starts its own stack (a PostgreSQL database, a private Redis, gunicorn, Celery), as the full
runs do; bench.intake needs wrk, which `make test` installs.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

TINY = {
    "intake": [
        "--duration", "1", "--warmup", "1", "--probe-duration", "1", "--connections", "2",
        "--latencies", "0", "--no-new-connection-round",
    ],
    "delivery": [
        "--messages", "6", "--concurrencies", "1", "--latencies", "0",
        "--limited-messages", "6", "--per-minute", "600",
    ],
    "scale": ["--sizes", "300"],
}  # fmt: skip


@pytest.mark.timeout(400)
@pytest.mark.parametrize("benchmark", sorted(TINY))
def test_the_benchmark_runs_at_a_tiny_size(benchmark, tmp_path):
    output = tmp_path / f"{benchmark}.json"

    done = subprocess.run(
        [sys.executable, "-m", f"bench.{benchmark}", *TINY[benchmark], "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=380,
    )

    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert json.loads(output.read_text()), "the benchmark wrote its figures"
