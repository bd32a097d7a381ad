"""A standby PBX named in the URL (``standby=host:port``): when the PBX in use is lost and
stays unreachable, the session moves to the standby, with ``LinkDown`` then ``Resynced``
as for a reconnect, and commands reach the standby."""

from conftest import fast_office, is_

from ctilink import events


def test_a_lost_pbx_is_replaced_by_its_standby(connect):
    primary, standby = fast_office(), fast_office()
    try:
        c = connect(f"{primary.session_url}&reconnect_ms=50&standby=127.0.0.1:{standby.port}")
        primary.place_call("100", "101")
        c.until("101 answers on the primary", lambda e: is_(e, events.Established, "101"))
        standby.place_call("102", "103")

        primary.shutdown()
        c.until("link down", lambda e: isinstance(e, events.LinkDown))
        c.until("resynced", lambda e: isinstance(e, events.Resynced))
        calls = c.session.snapshot().calls
        assert [sorted(k.device for k in call.connections) for call in calls] == [["102", "103"]]

        call = c.cmd("make_call", "104", "105")
        c.until("105 answers on the standby", lambda e: is_(e, events.Established, "105", call))
    finally:
        primary.shutdown()
        standby.shutdown()
