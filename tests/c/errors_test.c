/*
 * Every error path of the C ABI: NULL arguments, bad UTF-8, bad URLs, unreachable PBX,
 * small buffers, invalid arguments, unknown calls, wrong states, closed sessions. Each
 * gives its result code and leaves outputs untouched.
 * Usage: errors_test URL DEAD_URL   (DEAD_URL: a port where nothing listens)
 */
#include "harness.h"

static const char bad_utf8[] = {'1', (char)0xff, '0', 0};

int main(int argc, char **argv) {
    CHECK(argc == 3);
    char buf[256];
    size_t n = 12345;

    /* Version. */
    CHECK(strstr(ctilink_version(), "ctilink/") == ctilink_version());
    char want[32];
    snprintf(want, sizeof want, "ctilink/%d.%d.%d", CTILINK_VERSION_MAJOR, CTILINK_VERSION_MINOR,
             CTILINK_VERSION_PATCH);
    CHECK(strcmp(ctilink_version(), want) == 0);

    /* Result messages. */
    CHECK_OK(ctilink_result_message(CTILINK_RESULT_LINK_DOWN, buf, sizeof buf, &n));
    CHECK(n == strlen(buf) && strstr(buf, "down") != NULL);
    n = 12345;
    CHECK_RESULT(ctilink_result_message(CTILINK_RESULT_LINK_DOWN, buf, 3, &n), CTILINK_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 12345);
    CHECK_RESULT(ctilink_result_message(CTILINK_RESULT_OK, NULL, 10, &n), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_OK(ctilink_result_message(4242, buf, sizeof buf, &n)); /* unknown codes have a text too */

    /* Options. */
    ctilink_options *opts = NULL;
    CHECK_RESULT(ctilink_options_new(NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_options_set_url(NULL, argv[1]), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_OK(ctilink_options_new(&opts));
    CHECK_RESULT(ctilink_options_set_url(opts, NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_options_set_url(opts, bad_utf8), CTILINK_RESULT_INVALID_UTF8);
    CHECK_RESULT(ctilink_options_set_url(opts, "http://pbx"), CTILINK_RESULT_INVALID_URL);
    CHECK_RESULT(ctilink_options_set_url(opts, "ami://admin:TopSecret99@pbx:notaport"),
                 CTILINK_RESULT_INVALID_URL);
    CHECK_OK(ctilink_last_error_message(buf, sizeof buf, &n));
    CHECK(n > 0 && strstr(buf, "TopSecret99") == NULL);
    CHECK_RESULT(ctilink_options_set_action_timeout_ms(opts, 0), CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_options_set_event_queue(opts, 0), CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_options_set_monitor(opts, bad_utf8), CTILINK_RESULT_INVALID_UTF8);
    ctilink_session *s = NULL;
    CHECK_RESULT(ctilink_session_connect(opts, &s), CTILINK_RESULT_INVALID_ARGUMENT); /* no URL yet */
    CHECK_RESULT(ctilink_session_connect(NULL, &s), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_connect(opts, NULL), CTILINK_RESULT_NULL_PARAMETER);

    /* Nothing listens: CONNECT_FAILED, with the reason and without the secret. */
    CHECK_OK(ctilink_options_set_url(opts, argv[2]));
    CHECK_OK(ctilink_options_set_action_timeout_ms(opts, 2000));
    CHECK_RESULT(ctilink_session_connect(opts, &s), CTILINK_RESULT_CONNECT_FAILED);
    CHECK(s == NULL);
    CHECK_OK(ctilink_last_error_message(buf, sizeof buf, &n));
    CHECK(n > 0 && strstr(buf, "secret") == NULL);
    fprintf(stderr, "  dead PBX: %s\n", buf);

    /* A real session. */
    CHECK_OK(ctilink_options_set_url(opts, argv[1]));
    CHECK_OK(ctilink_options_set_event_queue(opts, 64));
    CHECK_OK(ctilink_session_connect(opts, &s));
    ctilink_options_free(opts);
    order_t order = {0};

    uint64_t req = 777;
    char call[CTILINK_CALL_ID_MAX];
    size_t call_len = 999;
    /* Checked at once: nothing starts, outputs untouched. */
    CHECK_RESULT(ctilink_session_make_call(NULL, "100", "101", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_make_call(s, NULL, "101", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_make_call(s, "100", "101", NULL, call, sizeof call, &call_len),
                 CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_make_call(s, "100", "101", &req, call, 8, &call_len),
                 CTILINK_RESULT_INSUFFICIENT_SIZE);
    CHECK_RESULT(ctilink_session_make_call(s, "100", "1 01", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_session_make_call(s, "100", "101\r\nAction: Hangup", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_session_make_call(s, bad_utf8, "101", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_INVALID_UTF8);
    CHECK_RESULT(ctilink_session_send_dtmf(s, "c", "100", "12x", &req), CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_session_set_forwarding(s, "100", 42, "200", &req), CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_session_transfer_call(s, "same", "same", &req), CTILINK_RESULT_INVALID_ARGUMENT);
    CHECK_RESULT(ctilink_session_answer(s, "c", "100", NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK(req == 777 && call_len == 999);

    /* Known only to the model or the PBX: the completion says. */
    CHECK_OK(ctilink_session_clear_call(s, "no-such-call", &req));
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_UNKNOWN_CALL);
    CHECK_OK(ctilink_session_make_call(s, "999", "101", &req, call, sizeof call, &call_len));
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_UNKNOWN_DEVICE);
    CHECK_OK(ctilink_session_hold(s, "no-such-call", "100", &req));
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_UNKNOWN_CALL);
    CHECK_OK(ctilink_session_pickup(s, "100", "101", &req)); /* 101 does not ring */
    CHECK_RESULT(wait_completion(s, &order, req, NULL), CTILINK_RESULT_NOT_ALLOWED);

    /* Event accessors on NULL answer neutral values. */
    CHECK(ctilink_event_get_type(NULL) == CTILINK_EVENT_TYPE_OTHER);
    CHECK(ctilink_event_call_id(NULL).len == 0 && ctilink_event_call_id(NULL).data != NULL);
    CHECK(ctilink_event_cause(NULL) == -1 && ctilink_event_request_id(NULL) == 0);
    CHECK(ctilink_event_connection_state(NULL) == CTILINK_CONNECTION_STATE_NONE);
    uint32_t st = 5, mode = 5;
    CHECK(!ctilink_event_line_call_state(NULL, "100", &st, &mode) && st == 5);
    ctilink_event_free(NULL);
    ctilink_snapshot_free(NULL);
    ctilink_options_free(NULL);
    ctilink_session_free(NULL);
    CHECK(ctilink_snapshot_device_count(NULL) == 0 && ctilink_snapshot_call_at(NULL, 0) == NULL);
    CHECK(ctilink_session_status(NULL) == CTILINK_LINK_STATUS_CLOSED);
    CHECK_RESULT(ctilink_session_next_event(NULL, 0, NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_next_event(s, 0, NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_snapshot(s, NULL), CTILINK_RESULT_NULL_PARAMETER);
    CHECK_RESULT(ctilink_session_close(NULL), CTILINK_RESULT_NULL_PARAMETER);

    /* Closed: commands are refused at once, events end with CLOSED, close again is fine. */
    CHECK_OK(ctilink_session_close(s));
    CHECK_OK(ctilink_session_close(s));
    req = 777;
    CHECK_RESULT(ctilink_session_make_call(s, "100", "101", &req, call, sizeof call, &call_len),
                 CTILINK_RESULT_CLOSED);
    CHECK_RESULT(ctilink_session_set_do_not_disturb(s, "100", true, &req), CTILINK_RESULT_CLOSED);
    CHECK(req == 777);
    CHECK(ctilink_session_status(s) == CTILINK_LINK_STATUS_CLOSED);
    for (;;) {
        ctilink_event *ev = NULL;
        ctilink_result r = ctilink_session_next_event(s, 5000, &ev);
        if (r == CTILINK_RESULT_CLOSED) break;
        CHECK_OK(r);
        order_check(&order, ev);
        ctilink_event_free(ev);
    }
    ctilink_event *ev = NULL;
    CHECK_RESULT(ctilink_session_next_event(s, 0, &ev), CTILINK_RESULT_CLOSED);
    ctilink_session_free(s);
    printf("done\n");
    return 0;
}
