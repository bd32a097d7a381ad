/*
 * Click-to-dial through the C ABI against the simulator: an answered call and a busy one,
 * with the order promises checked on every event (harness.h).
 * Usage: click_to_dial_test URL   (the driver keeps extension 103 busy)
 */
#include "harness.h"

#define LINECALLSTATE_BUSY 0x00000040u
#define LINECALLSTATE_CONNECTED 0x00000100u

int main(int argc, char **argv) {
    CHECK(argc == 2);
    order_t order = {0};
    ctilink_session *s = connect_or_die(argv[1]);
    CHECK(ctilink_session_status(s) == CTILINK_LINK_STATUS_UP);

    /* Answered: 100 calls 101. */
    uint64_t req = 0;
    char call[CTILINK_CALL_ID_MAX];
    size_t call_len = 0;
    CHECK_OK(ctilink_session_make_call(s, "100", "101", &req, call, sizeof call, &call_len));
    CHECK(req != 0);
    CHECK(call_len > 0 && call_len == strlen(call));
    /* The completion carries the same id, and comes before any event of the call. */
    char completed_id[CTILINK_CALL_ID_MAX];
    CHECK_OK(wait_completion(s, &order, req, completed_id));
    CHECK(strcmp(completed_id, call) == 0);
    ctilink_event *ev = wait_for(s, &order, CTILINK_EVENT_TYPE_ESTABLISHED, "101", 10000);
    CHECK(str_is(ctilink_event_call_id(ev), call));
    CHECK(str_is(ctilink_event_caller_number(ev), "100"));
    CHECK(ctilink_event_connection_state(ev) == CTILINK_CONNECTION_STATE_CONNECTED);
    CHECK(ctilink_event_tapi_call_state(ev) == LINECALLSTATE_CONNECTED);
    uint32_t state = 0, mode = 0;
    CHECK(ctilink_event_line_call_state(ev, "100", &state, &mode));
    CHECK(state == LINECALLSTATE_CONNECTED && mode == 0);
    CHECK(!ctilink_event_line_call_state(ev, "105", &state, &mode));
    ctilink_str json = ctilink_event_json(ev);
    CHECK(json.len > 0 && strstr(json.data, "\"event\":\"established\"") != NULL);
    ctilink_event_free(ev);
    printf("answered\n");

    uint64_t clear = 0;
    CHECK_OK(ctilink_session_clear_call(s, call, &clear));
    CHECK(clear > req);
    /* The completion and the call's end come in either order (the PBX may report the
     * hang-up before it answers the action). */
    int completed = 0, cleared = 0;
    while (!completed || !cleared) {
        ev = next_checked(s, &order, 10000);
        ctilink_event_type t = ctilink_event_get_type(ev);
        if (t == CTILINK_EVENT_TYPE_REQUEST_COMPLETED && ctilink_event_request_id(ev) == clear) {
            CHECK(ctilink_event_result(ev) == CTILINK_RESULT_OK);
            completed = 1;
        } else if (t == CTILINK_EVENT_TYPE_CALL_CLEARED) {
            CHECK(str_is(ctilink_event_call_id(ev), call));
            CHECK(ctilink_event_flag(ev)); /* answered */
            cleared = 1;
        }
        ctilink_event_free(ev);
    }

    /* Busy: 103 is in a call the driver placed. */
    CHECK_OK(ctilink_session_make_call(s, "100", "103", &req, call, sizeof call, &call_len));
    CHECK_OK(wait_completion(s, &order, req, NULL));
    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_FAILED, NULL, 10000);
    CHECK(str_is(ctilink_event_call_id(ev), call));
    CHECK(ctilink_event_failure_reason(ev) == CTILINK_FAILURE_REASON_BUSY);
    CHECK(ctilink_event_cause(ev) == 17 || ctilink_event_cause(ev) == -1);
    CHECK(ctilink_event_line_call_state(ev, "100", &state, &mode));
    CHECK(state == LINECALLSTATE_BUSY);
    ctilink_event_free(ev);
    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_CALL_CLEARED, NULL, 10000);
    CHECK(str_is(ctilink_event_call_id(ev), call));
    CHECK(!ctilink_event_flag(ev)); /* not answered */
    ctilink_event_free(ev);
    printf("busy\n");

    close_and_free(s, &order);
    printf("done\n");
    return 0;
}
