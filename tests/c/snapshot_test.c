/*
 * A session opened while a call exists: the call is announced first (NEW_CALL with its
 * state, as TAPI wants for a line opened during a call), and the snapshot shows the
 * devices, their states and the call.
 * Usage: snapshot_test URL   (the driver has 102 talking to 103)
 */
#include "harness.h"

#define LINECALLSTATE_CONNECTED 0x00000100u

int main(int argc, char **argv) {
    CHECK(argc == 2);
    order_t order = {0};
    ctilink_session *s = connect_or_die(argv[1]);

    ctilink_event *ev = next_checked(s, &order, 5000);
    CHECK(ctilink_event_get_type(ev) == CTILINK_EVENT_TYPE_NEW_CALL);
    CHECK(ctilink_event_request_id(ev) == 0);
    CHECK(str_is(ctilink_event_calling_device(ev), "102"));
    uint32_t state = 0, mode = 0;
    CHECK(ctilink_event_line_call_state(ev, "103", &state, &mode));
    CHECK(state == LINECALLSTATE_CONNECTED);
    char call[CTILINK_CALL_ID_MAX];
    copy_str(call, sizeof call, ctilink_event_call_id(ev));
    ctilink_event_free(ev);

    ctilink_snapshot *snap = NULL;
    CHECK_OK(ctilink_session_snapshot(s, &snap));
    CHECK(ctilink_snapshot_device_count(snap) == 10);
    CHECK(ctilink_snapshot_device_at(snap, 10) == NULL);
    const ctilink_device *d100 = ctilink_snapshot_find_device(snap, "100");
    CHECK(d100 != NULL);
    CHECK(str_is(ctilink_device_id(d100), "100"));
    CHECK(str_is(ctilink_device_interface(d100), "PJSIP/100"));
    CHECK(ctilink_device_get_state(d100) == CTILINK_DEVICE_STATE_IDLE);
    CHECK(!ctilink_device_do_not_disturb(d100));
    CHECK(ctilink_device_forward_to(d100, CTILINK_FORWARD_KIND_IMMEDIATE).len == 0);
    CHECK(ctilink_device_get_state(ctilink_snapshot_find_device(snap, "103")) == CTILINK_DEVICE_STATE_IN_USE);
    CHECK(ctilink_snapshot_find_device(snap, "999") == NULL);

    CHECK(ctilink_snapshot_call_count(snap) == 1);
    const ctilink_call *c = ctilink_snapshot_call_at(snap, 0);
    CHECK(c != NULL && c == ctilink_snapshot_find_call(snap, call));
    CHECK(str_is(ctilink_call_id(c), call));
    CHECK(str_is(ctilink_call_caller_number(c), "102"));
    CHECK(str_is(ctilink_call_calling_device(c), "102"));
    CHECK(ctilink_call_answered(c));
    CHECK(ctilink_call_connection_count(c) == 2);
    for (size_t i = 0; i < 2; i++) {
        CHECK(ctilink_call_connection_state(c, i) == CTILINK_CONNECTION_STATE_CONNECTED);
        CHECK(ctilink_call_connection_channel(c, i).len > 0);
    }
    CHECK(ctilink_call_connection_state(c, 2) == CTILINK_CONNECTION_STATE_NONE);
    CHECK(ctilink_call_line_call_state(c, "102", &state) && state == LINECALLSTATE_CONNECTED);
    CHECK(!ctilink_call_line_call_state(c, "100", &state));
    ctilink_snapshot_free(snap);

    ctilink_device_state ds = CTILINK_DEVICE_STATE_NONE;
    CHECK_OK(ctilink_session_device_state(s, "102", &ds));
    CHECK(ds == CTILINK_DEVICE_STATE_IN_USE);
    ds = CTILINK_DEVICE_STATE_NONE;
    CHECK_RESULT(ctilink_session_device_state(s, "999", &ds), CTILINK_RESULT_UNKNOWN_DEVICE);
    CHECK(ds == CTILINK_DEVICE_STATE_NONE); /* outputs are written only on success */

    /* Monitoring only 100 and 101: neither the call nor the busy devices are shown. */
    ctilink_options *opts = NULL;
    ctilink_session *m = NULL;
    CHECK_OK(ctilink_options_new(&opts));
    CHECK_OK(ctilink_options_set_url(opts, argv[1]));
    CHECK_OK(ctilink_options_set_monitor(opts, "100, 101"));
    CHECK_OK(ctilink_session_connect(opts, &m));
    ctilink_options_free(opts);
    CHECK_OK(ctilink_session_snapshot(m, &snap));
    CHECK(ctilink_snapshot_device_count(snap) == 2 && ctilink_snapshot_call_count(snap) == 0);
    ctilink_snapshot_free(snap);
    ctilink_event *none = NULL;
    CHECK(ctilink_session_next_event(m, 200, &none) == CTILINK_RESULT_NO_EVENT);
    order_t morder = {0};
    close_and_free(m, &morder);

    close_and_free(s, &order);
    printf("done\n");
    return 0;
}
