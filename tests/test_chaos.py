"""The chaos test, small: bench/chaos.py's machinery with 40 submissions, faults on, one worker
SIGKILLed mid-run and the broker restarted empty, once over Redis and once over RabbitMQ.
Nothing may be lost, nothing sent twice.

It starts its own broker (a redis-server, or a virtual host on the machine's RabbitMQ), gunicorn,
two Celery workers and beat on a database of its own, so it needs redis-server, RabbitMQ and
PostgreSQL on 127.0.0.1; without them it fails, never skips.
"""

import pytest

from bench.chaos import KILL_WORKER, RESTART_BROKER, ChaosConfig, Disruption, run_chaos

pytestmark = pytest.mark.e2e

SUBMISSIONS = 40


@pytest.mark.timeout(240)
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_every_submission_is_delivered_exactly_once_through_faults_kills_and_a_broker_restart(
    tmp_path, broker
):
    config = ChaosConfig(
        submissions=SUBMISSIONS,
        database=f"inbox_intake_chaos_test_{broker}",
        rate=10,
        broker=broker,
        disruptions=(Disruption(0.3, KILL_WORKER, worker=1), Disruption(0.6, RESTART_BROKER)),
        drain_timeout=120,
    )

    result = run_chaos(config, tmp_path)

    report = result.table()
    print(report)
    assert sum(result.faults_injected.values()) > 0, report
    assert result.form_errors == {}, report
    assert result.delivered == SUBMISSIONS, report
    assert result.lost == 0, report
    assert result.duplicated == 0, report
    assert result.statuses == {"sent": SUBMISSIONS}, report
