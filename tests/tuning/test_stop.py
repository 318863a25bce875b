"""The first SIGINT or SIGTERM asks the run to stop; the second quits; Ray does not take them."""

from __future__ import annotations

import os
import signal
import time

import pytest

from harness.tuning.stop import StopRequest, StopTrials


def _wait(stop: StopRequest) -> None:
    end = time.monotonic() + 5
    while not stop.requested and time.monotonic() < end:
        time.sleep(0.01)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_requests_a_stop_and_the_second_quits(signum: int) -> None:
    said: list[str] = []
    stop = StopRequest()
    with stop.listening(said.append):
        os.kill(os.getpid(), signum)
        _wait(stop)
        assert stop.requested and stop.signum == signum and "Ctrl-C again" in said[0]
        assert StopTrials(stop).stop_all()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signum)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert "TUNE_DISABLE_SIGINT_HANDLER" not in os.environ


@pytest.mark.slow
def test_sigterm_is_ours_inside_a_local_ray_session() -> None:
    from harness.distributed.session import ray_session

    stop = StopRequest()
    with ray_session(num_cpus=1), stop.listening(lambda _t: None):  # the order run_suite uses
        os.kill(os.getpid(), signal.SIGTERM)  # Ray's own handler would sys.exit here
        _wait(stop)
        assert stop.requested and stop.signum == signal.SIGTERM
