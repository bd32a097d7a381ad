"""examples/python/*.py run as a user runs them: a new interpreter, the installed package,
arguments on the command line, the outcome word on the last line."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, fast_office, sigint_default

EXAMPLES = REPO / "examples" / "python"


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout)


def test_click_to_dial_with_no_arguments_uses_its_own_simulator():
    r = run(str(EXAMPLES / "click_to_dial.py"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == "answered", r.stdout
    assert lines[0].startswith("call ") and "your phone 100 rings" in lines[0]
    assert "  established 101" in lines


@pytest.mark.parametrize(
    "to, busy, outcome",
    [("101", False, "answered"), ("103", True, "busy"), ("108", False, "no-answer"), ("999", False, "failed")],
)
def test_click_to_dial_against_a_pbx(to, busy, outcome):
    with fast_office() as sim:
        if busy:
            sim.place_call("102", "103")
            time.sleep(0.5)
        r = run(str(EXAMPLES / "click_to_dial.py"), sim.url, "100", to)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == outcome, r.stdout


def test_click_to_dial_usage_and_errors():
    r = run(str(EXAMPLES / "click_to_dial.py"), "only-one-argument")
    assert r.returncode == 2 and "usage" in r.stderr
    with fast_office() as sim:
        r = run(str(EXAMPLES / "click_to_dial.py"), sim.url.replace("secret@", "wrong@"), "100", "101")
    assert r.returncode == 1 and "login refused" in r.stderr, r.stderr
    assert "wrong" not in r.stderr


def test_incoming_call_with_no_arguments_shows_two_popups():
    r = run(str(EXAMPLES / "incoming_call.py"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines == [
        "waiting for calls...",
        "pop-up at 100: call from 101 Phone 101",
        "pop-up at 102: call from 103 Phone 103",
    ], r.stdout


def test_incoming_call_against_a_pbx_until_ctrl_c():
    with fast_office() as sim:
        p = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "incoming_call.py"), sim.url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=sigint_default,
        )
        try:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "waiting for calls..."
            sim.place_call("104", "105")
            assert p.stdout.readline().strip() == "pop-up at 105: call from 104 Phone 104"
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
    assert p.returncode == 130, (out, err)
    assert "Traceback" not in err
