/*
 * The PBX link dropping under a C host: LINK_DOWN, commands completing with LINK_DOWN
 * while it is down, then LINK_UP, the existing call announced again with its state
 * (TAPI drops calls at LINK_DOWN and wants them back), and RESYNCED.
 * Usage: link_down_test URL   (with reconnect_ms=3000: the link stays down 3 s)
 * Protocol: the driver has 102 talking to 103; prints DROP (the driver then drops every
 * connection of the PBX).
 */
#include "harness.h"

#define LINECALLSTATE_CONNECTED 0x00000100u

int main(int argc, char **argv) {
    CHECK(argc == 2);
    order_t order = {0};
    ctilink_session *s = connect_or_die(argv[1]);
    char call[CTILINK_CALL_ID_MAX];
    expect_existing_call(s, &order, call);
    ctilink_event *ev = NULL;

    sync_with_driver("DROP");
    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_LINK_DOWN, NULL, 10000);
    CHECK(ctilink_event_message(ev).len > 0);
    ctilink_event_free(ev);
    CHECK(ctilink_session_status(s) == CTILINK_LINK_STATUS_DOWN);
    uint64_t req = 0;
    char newcall[CTILINK_CALL_ID_MAX];
    size_t len = 0;
    CHECK_OK(ctilink_session_make_call(s, "100", "101", &req, newcall, sizeof newcall, &len));
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_LINK_DOWN);
    CHECK_OK(ctilink_session_clear_call(s, call, &req));
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_LINK_DOWN);

    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_LINK_UP, NULL, 20000);
    ctilink_event_free(ev);
    /* The call still exists: announced again with its state, before RESYNCED. */
    int announced = 0;
    for (;;) {
        ev = next_checked(s, &order, 10000);
        ctilink_event_type t = ctilink_event_get_type(ev);
        if (t == CTILINK_EVENT_TYPE_NEW_CALL && str_is(ctilink_event_call_id(ev), call)) {
            uint32_t state = 0, mode = 0;
            CHECK(ctilink_event_line_call_state(ev, "102", &state, &mode));
            CHECK(state == LINECALLSTATE_CONNECTED);
            announced = 1;
        }
        ctilink_event_free(ev);
        if (t == CTILINK_EVENT_TYPE_RESYNCED) break;
    }
    CHECK(announced);
    CHECK(ctilink_session_status(s) == CTILINK_LINK_STATUS_UP);
    close_and_free(s, &order);
    printf("done\n");
    return 0;
}
