"""``Simulator(asterisk=...)``: the Asterisk the simulator imitates (18, 20 or 22), as
``ctilink sim --asterisk``. The version shows in the AMI banner and, unless ``technology``
says otherwise, in the phones' channel technology (chan_sip on 18 and 20, PJSIP on 22)."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import ctilink
from ctilink import events

from conftest import fast_office, is_


def banner(port: int) -> str:
    """The first line the simulator writes on a raw TCP connection, without its CRLF."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


@pytest.mark.parametrize(
    "asterisk, ami_version, prefix",
    [
        (22, "11.0.0", "PJSIP/"),
        (20, "9.0.0", "SIP/"),  # technology left to the version: chan_sip
        (18, "7.0.3", "SIP/"),
        (None, "9.0.0", "PJSIP/"),  # no version: the simulator as it always was
    ],
)
def test_the_simulator_imitates_the_asterisk_version(connect, asterisk, ami_version, prefix):
    options: dict = {} if asterisk is None else {"asterisk": asterisk}
    sim = fast_office(**options)
    try:
        assert banner(sim.port) == f"Asterisk Call Manager/{ami_version}"
        assert sim.session_url.endswith("control=sip&astdb=1" if prefix == "SIP/" else "control=pjsip&astdb=1")
        c = connect(sim.session_url)
        call = c.cmd("make_call", "100", "101")
        c.until("101 answers", lambda e: is_(e, events.Established, "101", call))
        channels = [e.channel for e in c.seen if e.call == call and isinstance(getattr(e, "channel", None), str)]
        assert channels, [repr(e) for e in c.seen]
        assert all(ch.startswith(prefix) for ch in channels), channels
        assert {ch.split("/")[1].split("-")[0] for ch in channels} == {"100", "101"}, channels
        c.close()
    finally:
        sim.shutdown()


def test_a_version_string_and_an_explicit_technology():
    with ctilink.Simulator(extensions="100-101", asterisk="22.10.1") as sim:
        assert banner(sim.port) == "Asterisk Call Manager/11.0.0"
    with ctilink.Simulator(extensions="100-101", asterisk=20, technology="PJSIP") as sim:
        assert banner(sim.port) == "Asterisk Call Manager/9.0.0"
        assert sim.session_url.endswith("control=pjsip&astdb=1")


@pytest.mark.parametrize(
    "options",
    [
        {"asterisk": 17},
        {"asterisk": 21},
        {"asterisk": "x"},
        {"asterisk": ""},
        {"asterisk": -20},
        {"asterisk": 22.0},
        {"asterisk": True},
        {"asterisk": 22, "technology": "SIP"},
        {"asterisk": "22", "technology": "sip"},
        {"technology": "IAX2"},
    ],
    ids=repr,
)
def test_an_unknown_version_or_a_missing_technology_is_invalid(options: Any):
    with pytest.raises(ctilink.InvalidArgument) as info:
        ctilink.Simulator(extensions="100-101", **options)
    assert isinstance(info.value, ctilink.CtiError) and isinstance(info.value, ValueError)
    assert "Asterisk" in str(info.value)
