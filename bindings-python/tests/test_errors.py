"""Error paths: each core error as its exception class, through both APIs, with the core's
message and never the secret."""

from __future__ import annotations

import socket

import pytest

import ctilink
from ctilink import events

from conftest import FLAVOURS, is_, talking


def test_the_hierarchy_is_rooted_at_cti_error():
    classes = [
        ctilink.InvalidUrl, ctilink.InvalidArgument, ctilink.ConnectError, ctilink.TlsError,
        ctilink.AuthFailed, ctilink.LinkDown, ctilink.Timeout, ctilink.PbxRefused,
        ctilink.ProtocolError, ctilink.Busy, ctilink.Closed, ctilink.UnknownDevice,
        ctilink.UnknownCall, ctilink.NotAllowed, ctilink.Unsupported,
    ]
    for cls in classes:
        assert issubclass(cls, ctilink.CtiError), cls
    assert issubclass(ctilink.Timeout, TimeoutError)
    assert issubclass(ctilink.InvalidArgument, ValueError)
    assert issubclass(ctilink.LinkDown, ConnectionError)
    assert issubclass(ctilink.UnknownCall, LookupError)
    assert not issubclass(ctilink.SimulatorError, ctilink.CtiError)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("flavour", sorted(FLAVOURS))
def test_connect_errors(sim, flavour):
    make = FLAVOURS[flavour]
    with pytest.raises(ctilink.InvalidUrl):
        make("http://127.0.0.1:1")
    with pytest.raises(ctilink.InvalidUrl):
        make(sim.url + "?control=telepathy")
    with pytest.raises(ctilink.ConnectError):
        make(f"ami://admin:s3cret@127.0.0.1:{free_port()}", connect_timeout=2.0, reconnect=False)
    with pytest.raises(ctilink.AuthFailed) as e:
        make(sim.url.replace("admin:secret", "admin:wr0ngpass"), reconnect=False)
    assert "wr0ngpass" not in str(e.value)
    with pytest.raises(ctilink.InvalidArgument):
        make(sim.url, event_queue=0)
    with pytest.raises(ctilink.InvalidArgument):
        make(sim.url, phone_control="telepathy")
    with pytest.raises(ctilink.InvalidArgument):
        make(sim.url, timeout=-1.0)
    with pytest.raises(TypeError):
        make(sim.url, no_such_option=1)


def test_command_errors(sim, connect):
    c = connect(sim.session_url)
    with pytest.raises(ctilink.InvalidArgument):
        c.cmd("make_call", "100", "")
    with pytest.raises(ctilink.InvalidArgument):
        c.cmd("make_call", "100", "10\r\nAction: Hangup")
    with pytest.raises(ctilink.UnknownDevice):
        c.cmd("make_call", "999", "100")
    with pytest.raises(ctilink.UnknownCall):
        c.cmd("clear_call", "no-such-call")
    with pytest.raises(ctilink.InvalidArgument):
        c.cmd("set_forwarding", "100", "sideways", "101")
    call = talking(sim, c, "101", "100")
    with pytest.raises(ctilink.NotAllowed):
        c.cmd("answer", call, "100")  # it is talking, not ringing
    with pytest.raises(ctilink.NotAllowed):
        c.cmd("hold", call, "105")  # not in the call
    with pytest.raises(ctilink.InvalidArgument):
        c.cmd("send_dtmf", call, "100", "12x")
    # The PBX refuses (an AMI user without the write permission), with its message.
    sim.set_action_allowed("Originate", False)
    with pytest.raises(ctilink.PbxRefused) as e:
        c.cmd("make_call", "102", "103")
    assert "Permission denied" in str(e.value)
    sim.set_action_allowed("Originate", True)
    # The PBX does not know the action.
    sim.set_action_known("PlayDTMF", False)
    with pytest.raises(ctilink.Unsupported):
        c.cmd("send_dtmf", call, "100", "1")


def test_commands_need_what_the_pbx_is_set_up_for(sim, connect):
    c = connect(sim.url)  # neither phone control nor the AstDB convention
    call = talking(sim, c, "101", "100")
    with pytest.raises(ctilink.Unsupported):
        c.cmd("hold", call, "100")
    with pytest.raises(ctilink.Unsupported):
        c.cmd("set_do_not_disturb", "100", True)


def test_timeout_when_the_pbx_goes_silent(sim, connect):
    c = connect(sim.session_url, timeout=0.3)
    sim.stall(1.5)
    with pytest.raises(ctilink.Timeout) as e:
        c.cmd("set_do_not_disturb", "100", True)
    assert isinstance(e.value, TimeoutError)


def test_link_down(sim, connect):
    c = connect(sim.session_url, reconnect=False)
    sim.drop_connections()
    c.until("link down", lambda e: isinstance(e, events.LinkDown))
    assert c.session.status() is ctilink.LinkStatus.DOWN
    assert c.session.down_reason()
    with pytest.raises(ctilink.LinkDown):
        c.cmd("make_call", "100", "101")


def test_closed(sim, connect):
    c = connect(sim.session_url)
    assert c.session.status() is ctilink.LinkStatus.UP
    c.cmd("close")
    assert c.session.status() is ctilink.LinkStatus.CLOSED
    with pytest.raises(ctilink.Closed):
        c.cmd("make_call", "100", "101")
    with pytest.raises(ctilink.Closed):
        c.next(1.0)
    c.cmd("close")  # closing twice is harmless


def test_a_blocking_op_runs_once():
    with ctilink.Simulator(extensions="100-101") as sim:
        s = ctilink.connect_sync(sim.session_url)
        op = s._n.set_do_not_disturb("100", True)
        op.wait()
        with pytest.raises(RuntimeError):
            op.wait()
        s.close()


def test_simulator_errors():
    with ctilink.Simulator(extensions="100-101") as sim:
        with pytest.raises(ctilink.SimulatorError):
            sim.place_call("555", "100")  # an unknown calling phone is refused...
    with pytest.raises(ctilink.SimulatorError):
        sim.place_call("100", "101")  # ...and so is anything after shutdown
    with pytest.raises(ValueError):
        ctilink.Simulator(extensions="100-9")
    with pytest.raises(ValueError):
        ctilink.Simulator(listen="nowhere")
    assert "shut down" in repr(sim)


def test_two_sessions_on_one_pbx(sim):
    """One session watches (blocking iteration) while another answers the call it sees."""
    a = ctilink.connect_sync(sim.session_url)
    b = ctilink.connect_sync(sim.session_url)
    stream = a.events(timeout=5)
    b_stream = b.events(timeout=5)
    sim.place_call("101", "108")
    got = next(e for e in stream if is_(e, events.Delivered, "108"))
    # b acts on what its own model knows, once its events told it.
    assert next(e for e in b_stream if is_(e, events.Delivered, "108")).call == got.call
    b.answer(got.call, "108")
    assert next(e for e in stream if is_(e, events.Established, "108")).call == got.call
    a.close()
    b.close()
    # Iteration ends when the session closes.
    assert [e for e in stream if isinstance(e, events.Delivered)] == []
