"""Every event kind of the core, received from the simulator through both APIs, as the
right class with fields that agree with the core's own JSON form; and the event classes'
behaviour as values (immutable, equal by value, readable, matchable)."""

from __future__ import annotations

import enum
import sys
import time

import pytest

import ctilink
from ctilink import EventKind, events

from conftest import is_, ringing, talking

CLASS_OF_KIND = {
    EventKind.ORIGINATED: events.Originated,
    EventKind.DELIVERED: events.Delivered,
    EventKind.ESTABLISHED: events.Established,
    EventKind.HELD: events.Held,
    EventKind.RETRIEVED: events.Retrieved,
    EventKind.DIVERTED: events.Diverted,
    EventKind.TRANSFERRED: events.Transferred,
    EventKind.CONFERENCED: events.Conferenced,
    EventKind.QUEUED: events.Queued,
    EventKind.FAILED: events.Failed,
    EventKind.CONNECTION_CLEARED: events.ConnectionCleared,
    EventKind.CALL_CLEARED: events.CallCleared,
    EventKind.DEVICE_STATE: events.DeviceState,
    EventKind.DEVICE_REMOVED: events.DeviceRemoved,
    EventKind.PRESENCE: events.Presence,
    EventKind.DO_NOT_DISTURB: events.DoNotDisturb,
    EventKind.FORWARDING: events.Forwarding,
    EventKind.USER_EVENT: events.UserEvent,
    EventKind.RESYNCED: events.Resynced,
    EventKind.LINK_UP: events.LinkUp,
    EventKind.LINK_DOWN: events.LinkDown,
    EventKind.LAGGED: events.Lagged,
}

# Python names that differ from the core's JSON names.
JSON_NAME = {"from_": "from", "transfer_kind": "kind", "forward_kind": "kind"}


def ami(*pairs: tuple) -> bytes:
    """One AMI event as a PBX writes it."""
    return "".join(f"{k}: {v}\r\n" for k, v in pairs).encode() + b"\r\n"


def newchannel(ch, uid, linked, state, exten):
    num = ch.split("/")[1].split("-")[0]
    return ami(("Event", "Newchannel"), ("Channel", ch), ("ChannelState", state), ("CallerIDNum", num),
               ("Exten", exten), ("Uniqueid", uid), ("Linkedid", linked))


def newstate(ch, uid, state):
    return ami(("Event", "Newstate"), ("Channel", ch), ("ChannelState", state), ("Uniqueid", uid))


def dial_begin(src, dst):
    return ami(("Event", "DialBegin"), ("Channel", src[0]), ("Uniqueid", src[1]),
               ("DestChannel", dst[0]), ("DestUniqueid", dst[1]))


def dial_end(src, dst, status):
    return ami(("Event", "DialEnd"), ("Channel", src[0]), ("Uniqueid", src[1]),
               ("DestChannel", dst[0]), ("DestUniqueid", dst[1]), ("DialStatus", status))


def bridge_enter(ch, bridge):
    return ami(("Event", "BridgeEnter"), ("Channel", ch[0]), ("Uniqueid", ch[1]), ("BridgeUniqueid", bridge))


def hangup(ch):
    return ami(("Event", "Hangup"), ("Channel", ch[0]), ("Uniqueid", ch[1]), ("Cause", "16"))


def inject_conference(sim: ctilink.Simulator) -> None:
    """105 calls 106, then 107 joins their bridge: what a three-way call looks like on AMI
    (the simulator has no conference of its own, so the PBX's events are written raw)."""
    a, b, c = ("PJSIP/105-00000f01", "7000.1"), ("PJSIP/106-00000f02", "7000.2"), ("PJSIP/107-00000f03", "7000.3")
    sim.send_raw(b"".join([
        newchannel(a[0], a[1], a[1], "4", "106"), newchannel(b[0], b[1], a[1], "0", "s"), dial_begin(a, b),
        newstate(b[0], b[1], "5"), newstate(b[0], b[1], "6"), dial_end(a, b, "ANSWER"),
        bridge_enter(b, "br-py"), bridge_enter(a, "br-py"),
        newchannel(c[0], c[1], a[1], "0", "s"), dial_begin(a, c), newstate(c[0], c[1], "5"),
        newstate(c[0], c[1], "6"), bridge_enter(c, "br-py"),
        hangup(c), hangup(b), hangup(a),
    ]))


def inject_queue_and_presence(sim: ctilink.Simulator) -> None:
    q = ("PJSIP/107-00000f04", "7001.1")
    sim.send_raw(b"".join([
        newchannel(q[0], q[1], q[1], "4", "500"), newstate(q[0], q[1], "6"),
        ami(("Event", "QueueCallerJoin"), ("Channel", q[0]), ("Uniqueid", q[1]), ("Queue", "support"),
            ("Position", "1")),
        ami(("Event", "QueueCallerAbandon"), ("Channel", q[0]), ("Uniqueid", q[1]), ("Queue", "support")),
        hangup(q),
        ami(("Event", "PresenceStateChange"), ("Presentity", "CustomPresence:104"), ("Status", "away"),
            ("Subtype", ""), ("Message", "lunch")),
    ]))


def plain(v):
    """A Python field value in the shape of the core's JSON."""
    if isinstance(v, enum.Enum):
        return v.value
    if isinstance(v, ctilink.Party):
        d = {"number": v.number, "name": v.name}
        if v.presentation is not ctilink.Presentation.ALLOWED:
            d["presentation"] = v.presentation.value
        return d
    if isinstance(v, ctilink.Endpoint):
        return {"device": v.device, "channel": v.channel}
    if isinstance(v, tuple):
        return [plain(x) for x in v]
    return v


def check_against_json(ev: ctilink.Event) -> None:
    d = ev.to_dict()
    assert d["event"] == ev.kind.value
    assert isinstance(ev, CLASS_OF_KIND[ev.kind]), ev
    assert ctilink.EventKind(d["event"]) is ev.kind
    for field in type(ev).__match_args__:
        name = JSON_NAME.get(field, field)
        assert name in d, f"{ev!r}: {name} not in {d}"
        assert plain(getattr(ev, field)) == d[name], f"{type(ev).__name__}.{field}: {getattr(ev, field)!r} vs {d[name]!r}"
    # Every JSON field is reachable from Python.
    assert set(d) - {"event"} <= {JSON_NAME.get(f, f) for f in type(ev).__match_args__}, (d, type(ev).__match_args__)


def test_every_event_kind_arrives_as_its_class(sim, connect):
    c = connect(sim.session_url, reconnect=True)
    # Calls: click-to-dial (delivered, originated, established, device states), hold,
    # a blind transfer, a deflect, failures and clearing.
    call = c.cmd("make_call", "100", "101")
    c.until("answered", lambda e: is_(e, events.Established, "101", call))
    c.cmd("hold", call, "100")
    c.until("held", lambda e: is_(e, events.Held, "100"))
    c.cmd("retrieve", call, "100")
    c.until("retrieved", lambda e: is_(e, events.Retrieved, "100"))
    c.cmd("single_step_transfer", call, "100", "102")
    c.until("transferred", lambda e: isinstance(e, events.Transferred))
    sim.hangup_all()
    c.until("cleared", lambda e: is_(e, events.CallCleared, call=call))
    deflected = ringing(sim, c, "103", "108")
    c.cmd("deflect", deflected, "108", "104")
    c.until("diverted", lambda e: isinstance(e, events.Diverted))
    sim.hangup_all()
    # Device events; a call to a phone in do-not-disturb fails busy.
    c.cmd("set_do_not_disturb", "106", True)
    c.until("dnd", lambda e: isinstance(e, events.DoNotDisturb))
    failed = c.cmd("make_call", "105", "106")
    ev = c.until("failed", lambda e: is_(e, events.Failed, call=failed))
    assert ev.reason is ctilink.FailureReason.BUSY
    c.until("failed call cleared", lambda e: is_(e, events.CallCleared, call=failed))
    c.cmd("set_forwarding", "107", "no_answer", "100")
    c.until("forwarding", lambda e: isinstance(e, events.Forwarding))
    # What the simulator does not do itself, written as a PBX would.
    inject_conference(sim)
    c.until("conference", lambda e: isinstance(e, events.Conferenced))
    inject_queue_and_presence(sim)
    ev = c.until("queued", lambda e: isinstance(e, events.Queued))
    assert ev.queue == "support" and ev.position == 1
    ev = c.until("presence", lambda e: isinstance(e, events.Presence))
    assert (ev.device, ev.presence, ev.message) == ("104", "away", "lunch")
    sim.emit_user_event("Hello", [("Seq", "1"), ("Who", "py")])
    ev = c.until("user event", lambda e: isinstance(e, events.UserEvent) and e.name == "Hello")
    assert ("Who", "py") in ev.fields
    # The PBX restarts without phone 109: link_down, link_up, 109's device_removed, then
    # resynced.
    sim.restart("100-108")
    ev = c.until("link down", lambda e: isinstance(e, events.LinkDown))
    assert ev.reason
    ev = c.until("link up", lambda e: isinstance(e, events.LinkUp), timeout=15)
    assert ev.reconnected is True
    ev = c.until("device removed", lambda e: isinstance(e, events.DeviceRemoved), timeout=15)
    assert ev.device == "109"
    c.until("resynced", lambda e: isinstance(e, events.Resynced), timeout=15)
    # A consumer that falls behind its queue gets `lagged`.
    small = connect(sim.session_url, event_queue=4)
    sim.emit_burst(200)
    time.sleep(0.5)
    ev = small.until("lagged", lambda e: isinstance(e, events.Lagged))
    assert ev.missed > 0
    seen = c.seen + small.seen
    missing = set(EventKind) - {e.kind for e in seen}
    assert not missing, f"never saw {sorted(k.value for k in missing)}"
    for ev in seen:
        check_against_json(ev)


def test_a_pbx_restarted_with_other_phones_drops_the_ones_gone(sim, connect):
    c = connect(sim.session_url, reconnect=True)
    assert sorted(d.id for d in c.session.snapshot().devices) == [str(n) for n in range(100, 110)]
    # Renumbered: 105-109 stay, 110-114 are new, 100-104 are gone.
    sim.restart("105-114")
    done = c.until("resynced", lambda e: isinstance(e, events.Resynced), timeout=15)
    removed = [e.device for e in c.seen if isinstance(e, events.DeviceRemoved)]
    assert removed == ["100", "101", "102", "103", "104"]
    assert set(removed) <= set(done.devices_changed)
    assert repr(next(e for e in c.seen if isinstance(e, events.DeviceRemoved))) == "DeviceRemoved(device='100')"
    assert sorted(d.id for d in c.session.snapshot().devices) == [str(n) for n in range(105, 115)]
    assert c.session.device("100") is None
    for ev in c.seen:
        check_against_json(ev)
    with pytest.raises(ValueError):
        sim.restart([])


def test_events_are_immutable_values(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    ev = next(e for e in c.seen if isinstance(e, events.Established))
    with pytest.raises(AttributeError):
        ev.device = "999"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        ev.caller.number = "1"  # type: ignore[misc]
    assert ev == ev and ev != next(e for e in c.seen if isinstance(e, events.Delivered))
    # Generic accessors are the core's: a call event names its call, device and channel.
    assert ev.call == call and ev.device == "100" and ev.channel.startswith("PJSIP/100-")
    assert ev.connection_state is ctilink.ConnectionState.CONNECTED
    text = repr(ev)
    assert text.startswith("Established(call=") and "state=ConnectionState.CONNECTED" in text
    assert "caller=Party(number='101'" in text
    assert isinstance(ev, ctilink.Event) and ctilink.Event is events.Event
    # Fields follow the core's order in __match_args__, for `match` patterns.
    assert events.Delivered.__match_args__[:3] == ("call", "device", "channel")
    if sys.version_info >= (3, 10):
        scope: dict = {"ev": ev, "events": events}
        exec(
            "match ev:\n"
            "    case events.Established(device=d, caller=p):\n"
            "        found = (d, p.number)\n"
            "    case _:\n"
            "        found = None\n",
            scope,
        )
        assert scope["found"] == ("100", "101")


def test_snapshot_records(sim, connect):
    c = connect(sim.session_url)
    snap = c.session.snapshot()
    assert sorted(d.id for d in snap.devices) == [str(n) for n in range(100, 110)]
    dev = snap.device("100")
    assert dev is not None and dev.state is ctilink.DeviceState.IDLE and dev.interface == "PJSIP/100"
    assert snap.device("nope") is None and snap.calls == ()
    call = talking(sim, c, "101", "100")
    snap = c.session.snapshot()
    found = snap.call(call)
    assert found is not None and found.id == call and found.calling_device == "101"
    assert found.caller.number == "101" and found.answered and not found.click_to_dial
    conn = found.connection("100")
    assert conn is not None and conn.state is ctilink.ConnectionState.CONNECTED
    assert found.connection("105") is None and found.diverted is None
    assert repr(snap) == "Snapshot(devices=<10 devices>, calls=<1 calls>)"
    assert "Call(id=" in repr(found) and "Connection(device=" in repr(found)
    assert c.session.device("101").state is ctilink.DeviceState.IN_USE


def test_enums_print_their_value_and_cause_names():
    assert str(ctilink.ConnectionState.ALERTING) == "alerting"
    assert f"{ctilink.DialOutcome.NO_ANSWER}" == "no-answer"
    assert repr(ctilink.DeviceState.RING_IN_USE) == "DeviceState.RING_IN_USE"
    assert ctilink.ForwardKind("no_answer") is ctilink.ForwardKind.NO_ANSWER
    assert ctilink.cause_name(17) == "user busy"
    assert ctilink.cause_name(16) == "normal clearing"


def test_monitor_limits_a_session_to_its_devices(sim, connect):
    c = connect(sim.session_url, monitor=["100"])
    assert [d.id for d in c.session.snapshot().devices] == ["100"]
    sim.place_call("102", "103")
    talking(sim, c, "101", "100")
    assert all(e.device in ("100", "101") or e.device is None for e in c.seen if e.call), c.seen
    assert not any(e.device in ("102", "103") for e in c.seen)


def test_connection_cleared_says_who_hung_up(sim, connect):
    c = connect(sim.session_url)
    call = talking(sim, c, "101", "100")
    sim.hangup_ext("101")  # the caller hangs up
    for device in ("100", "101"):
        ev = c.until(f"{device} leaves", lambda e, d=device: is_(e, events.ConnectionCleared, d, call))
        assert ev.released_by == "101"
