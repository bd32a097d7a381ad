"""Every command of the Session against the simulator, through both APIs (the ``connect``
fixture runs each test once with asyncio and once blocking), and the events each one
brings: the same scenarios as the Rust tests in tests/tests/session_control.rs."""

from __future__ import annotations

import ctilink
from ctilink import ConnectionState, DialOutcome, DivertReason, FailureReason, ForwardKind, events
from ctilink import TransferKind

from conftest import is_, ringing, state, talking


def dial(c, from_: str, to: str) -> DialOutcome:
    """Click-to-dial and the core's DialProgress until the outcome."""
    call = c.cmd("make_call", from_, to)
    assert isinstance(call, str) and call
    progress = ctilink.DialProgress(call, from_, to)
    holder = {}

    def done(ev: ctilink.Event) -> bool:
        holder["outcome"] = progress.apply(ev)
        return holder["outcome"] is not None

    c.until(f"the outcome of {from_} -> {to}", done)
    return holder["outcome"]


def test_make_call_answered_with_its_events_in_order(sim, connect):
    c = connect(sim.session_url)
    call = c.cmd("make_call", "100", "101")
    # The id is known at once and is the one every event of the call carries.
    ev = c.until("100 rings for the click-to-dial", lambda e: is_(e, events.Delivered, "100", call))
    assert ev.click_to_dial is True and ev.state is ConnectionState.ALERTING
    c.until("100 answered (originated)", lambda e: is_(e, events.Originated, "100", call))
    ev = c.until("101 rings", lambda e: is_(e, events.Delivered, "101", call))
    assert ev.click_to_dial is False and ev.calling_device == "100"
    ev = c.until("101 answers", lambda e: is_(e, events.Established, "101", call))
    assert ev.state is ConnectionState.CONNECTED
    kinds = [e.kind.value for e in c.seen if e.call == call]
    assert kinds == ["delivered", "originated", "delivered", "established"], kinds
    snap = c.session.snapshot()
    found = snap.call(call)
    assert found is not None and found.answered
    assert {k.device for k in found.connections} == {"100", "101"}
    c.cmd("clear_call", call)
    ev = c.until("cleared", lambda e: is_(e, events.CallCleared, call=call))
    assert ev.answered is True
    assert c.session.call(call) is None


def test_click_to_dial_outcomes_come_from_the_core(sim, connect):
    c = connect(sim.session_url)
    assert dial(c, "100", "101") is DialOutcome.ANSWERED
    sim.hangup_all()
    # 103 is in a call: busy.
    talking(sim, c, "102", "103")
    assert dial(c, "104", "103") is DialOutcome.BUSY
    # 108 rings until Dial() gives up.
    assert dial(c, "105", "108") is DialOutcome.NO_ANSWER
    # A number that does not exist.
    assert dial(c, "106", "999") is DialOutcome.FAILED
    assert str(DialOutcome.NO_ANSWER) == "no-answer"


def test_answer_makes_a_ringing_phone_answer(sim, connect):
    c = connect(sim.session_url)
    call = ringing(sim, c, "101", "108")
    c.cmd("answer", call, "108")
    c.until("108 answers", lambda e: is_(e, events.Established, "108", call))
    assert state(c, call, "108") is ConnectionState.CONNECTED


def test_hold_and_retrieve(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    c.cmd("hold", call, "100")
    ev = c.until("held", lambda e: is_(e, events.Held, "100", call))
    assert ev.state is ConnectionState.HELD
    assert state(c, call, "100") is ConnectionState.HELD
    c.cmd("retrieve", call, "100")
    c.until("retrieved", lambda e: is_(e, events.Retrieved, "100", call))
    assert state(c, call, "100") is ConnectionState.CONNECTED


def test_single_step_transfer(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    c.cmd("single_step_transfer", call, "100", "102")
    ev = c.until("transferred", lambda e: isinstance(e, events.Transferred))
    assert ev.transfer_kind is TransferKind.BLIND and ev.call == call
    assert ev.transferring.device == "100"
    c.until("102 answers", lambda e: is_(e, events.Established, "102", call))
    assert state(c, call, "101") is ConnectionState.CONNECTED
    assert state(c, call, "100") is None


def test_consultation_call_then_transfer_call(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    consult = c.cmd("consultation_call", call, "100", "102")
    assert isinstance(consult, str) and consult != call
    c.until("100 holds the first call", lambda e: is_(e, events.Held, "100", call))
    c.until("102 answers", lambda e: is_(e, events.Established, "102", consult))
    c.cmd("transfer_call", call, consult)
    ev = c.until("transferred", lambda e: isinstance(e, events.Transferred))
    assert ev.transfer_kind is TransferKind.ATTENDED
    ev = c.until("the consultation merged", lambda e: isinstance(e, events.CallCleared))
    assert ev.merged_into == call or ev.call == consult
    calls = c.session.snapshot().calls
    assert len(calls) == 1, calls
    assert {k.device for k in calls[0].connections} == {"101", "102"}


def test_deflect(sim, connect):
    c = connect(sim.session_url)
    call = ringing(sim, c, "101", "108")
    c.cmd("deflect", call, "108", "102")
    ev = c.until("diverted to 102", lambda e: is_(e, events.Diverted, "102", call))
    assert ev.reason is DivertReason.DEFLECT and ev.from_.device == "108"
    c.until("102 answers", lambda e: is_(e, events.Established, "102", call))
    assert state(c, call, "108") is None


def test_pickup_by_call_and_by_device(sim, connect):
    c = connect(sim.session_url)
    call = ringing(sim, c, "101", "108")
    c.cmd("pickup", "103", call)
    ev = c.until("picked up", lambda e: is_(e, events.Diverted, "103"))
    assert ev.reason is DivertReason.PICKUP
    c.until("103 talks", lambda e: is_(e, events.Established, "103"))
    ringing(sim, c, "104", "109")
    c.cmd("pickup", "105", "109")
    c.until("105 talks", lambda e: is_(e, events.Established, "105"))


def test_send_dtmf(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    c.cmd("send_dtmf", call, "100", "12#*")
    found = c.session.call(call)
    peer = found.connection("101").channel
    played = "".join(d for ch, d in sim.dtmf_received() if ch == peer)
    assert played == "12#*"


def test_do_not_disturb(sim, connect):
    c = connect(sim.session_url)
    c.cmd("set_do_not_disturb", "104", True)
    ev = c.until("dnd on", lambda e: isinstance(e, events.DoNotDisturb) and e.enabled)
    assert ev.device == "104"
    assert c.session.device("104").do_not_disturb
    assert sim.truth()["dnd"] == ["104"]
    call = c.cmd("make_call", "100", "104")
    ev = c.until("busy", lambda e: is_(e, events.Failed, call=call))
    assert ev.reason is FailureReason.BUSY
    c.cmd("set_do_not_disturb", "104", False)
    c.until("dnd off", lambda e: isinstance(e, events.DoNotDisturb) and not e.enabled)
    assert not c.session.device("104").do_not_disturb
    assert sim.truth()["dnd"] == []


def test_forwarding(sim, connect):
    c = connect(sim.session_url)
    c.cmd("set_forwarding", "105", ForwardKind.IMMEDIATE, "106")
    ev = c.until("forwarding on", lambda e: isinstance(e, events.Forwarding) and e.to == "106")
    assert ev.forward_kind is ForwardKind.IMMEDIATE and ev.device == "105"
    dev = c.session.device("105")
    assert dev.forward_to == "106" and dev.forwarding(ForwardKind.IMMEDIATE) == "106"
    assert dev.forwarding("busy") is None
    sim.place_call("100", "105")
    c.until("106 rings instead", lambda e: is_(e, events.Delivered, "106"))
    assert not any(is_(e, events.Delivered, "105") for e in c.seen)
    # The kind may also be given by its value.
    c.cmd("set_forwarding", "105", "immediate", None)
    c.until("forwarding off", lambda e: isinstance(e, events.Forwarding) and e.to is None)
    assert sim.truth()["forwards"] == []
    c.cmd("set_forwarding", "107", "busy", "100")
    c.until("busy forwarding", lambda e: is_(e, events.Forwarding, "107"))
    assert sim.truth()["forwards"] == [("107", "busy", "100")]


def test_clear_connection(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    c.cmd("clear_connection", call, "100")
    ev = c.until("100 left", lambda e: is_(e, events.ConnectionCleared, "100", call))
    assert ev.previous is ConnectionState.CONNECTED and ev.state is ConnectionState.NULL
    c.until("call cleared", lambda e: is_(e, events.CallCleared, call=call))
    assert c.session.snapshot().calls == ()


def test_freepbx_astdb_convention(sim, connect):
    """``astdb="freepbx"``: no-answer forwarding goes to FreePBX's ``CFU`` key, which the
    PBX follows (tests/tests/pbx_dialects.rs has the rest)."""
    c = connect(sim.url, phone_control="pjsip", astdb="freepbx")
    c.cmd("set_forwarding", "108", ForwardKind.NO_ANSWER, "106")
    c.until("forwarding on", lambda e: is_(e, events.Forwarding, "108"))
    assert sim.truth()["forwards"] == [("108", "no_answer", "106")]
    sim.place_call("100", "108")
    c.until("106 rings after 108 did not answer", lambda e: is_(e, events.Delivered, "106"))
