/*
 * Click-to-dial from C: ring your own phone, and when you answer, call a number. Prints
 * the call's progress and, last, the outcome: answered, busy, no-answer or failed
 * (exit status 0, 3, 4 or 1, as `ctilink dial`).
 *
 *   cc click_to_dial.c -o click_to_dial $(pkg-config --cflags --libs ctilink)
 *   ./click_to_dial 'ami://admin:secret@pbx:5038' 100 0301234567
 */
#include <stdio.h>
#include <string.h>

#include "ctilink.h"

static void print_error(const char *what, ctilink_result r) {
    char detail[256], text[128];
    size_t n = 0;
    if (ctilink_last_error_message(detail, sizeof detail, &n) != CTILINK_RESULT_OK) detail[0] = '\0';
    if (ctilink_result_message(r, text, sizeof text, &n) != CTILINK_RESULT_OK) text[0] = '\0';
    fprintf(stderr, "%s: %s%s%s\n", what, text, detail[0] ? ": " : "", detail);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: click_to_dial URL FROM TO\n");
        return 2;
    }
    const char *url = argv[1], *from = argv[2], *to = argv[3];

    ctilink_options *opts = NULL;
    ctilink_session *session = NULL;
    ctilink_result r = ctilink_options_new(&opts);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_url(opts, url);
    if (r == CTILINK_RESULT_OK) r = ctilink_session_connect(opts, &session);
    ctilink_options_free(opts);
    if (r != CTILINK_RESULT_OK) {
        print_error("connect", r);
        return 1;
    }

    /* The call's id is known at once; its events follow the request's completion. */
    uint64_t request = 0;
    char call[CTILINK_CALL_ID_MAX];
    size_t call_len = 0;
    r = ctilink_session_make_call(session, from, to, &request, call, sizeof call, &call_len);
    if (r != CTILINK_RESULT_OK) {
        print_error("make_call", r);
        ctilink_session_free(session);
        return 1;
    }
    printf("call %s: your phone %s rings; answer it to call %s\n", call, from, to);

    ctilink_dial_progress *progress = NULL;
    if (ctilink_dial_progress_new(call, from, to, &progress) != CTILINK_RESULT_OK) {
        ctilink_session_free(session);
        return 1;
    }
    ctilink_dial_outcome outcome = CTILINK_DIAL_OUTCOME_PENDING;
    int waited_ms = 0;
    while (outcome == CTILINK_DIAL_OUTCOME_PENDING && waited_ms < 120000) {
        ctilink_event *ev = NULL;
        r = ctilink_session_next_event(session, 500, &ev);
        if (r == CTILINK_RESULT_NO_EVENT) {
            waited_ms += 500;
            continue;
        }
        if (r != CTILINK_RESULT_OK) break;
        ctilink_event_type type = ctilink_event_get_type(ev);
        if (type == CTILINK_EVENT_TYPE_REQUEST_COMPLETED && ctilink_event_request_id(ev) == request &&
            ctilink_event_result(ev) != CTILINK_RESULT_OK) {
            ctilink_str why = ctilink_event_message(ev);
            fprintf(stderr, "the PBX refused the call: %.*s\n", (int)why.len, why.data);
            outcome = CTILINK_DIAL_OUTCOME_FAILED;
        } else if (type == CTILINK_EVENT_TYPE_LINK_DOWN) {
            outcome = CTILINK_DIAL_OUTCOME_FAILED;
        } else {
            ctilink_str id = ctilink_event_call_id(ev);
            if (type != CTILINK_EVENT_TYPE_REQUEST_COMPLETED && id.len == call_len &&
                memcmp(id.data, call, call_len) == 0) {
                ctilink_str kind = ctilink_event_kind(ev), dev = ctilink_event_device(ev);
                printf("  %.*s %.*s\n", (int)kind.len, kind.data, (int)dev.len, dev.data);
            }
            outcome = ctilink_dial_progress_apply(progress, ev);
        }
        ctilink_event_free(ev);
    }
    if (outcome == CTILINK_DIAL_OUTCOME_PENDING) {
        outcome = ctilink_dial_progress_pending_failure(progress);
        if (outcome == CTILINK_DIAL_OUTCOME_PENDING) outcome = CTILINK_DIAL_OUTCOME_FAILED;
    }
    printf("%s\n", ctilink_dial_outcome_name(outcome));
    ctilink_dial_progress_free(progress);
    ctilink_session_close(session);
    ctilink_session_free(session);
    switch (outcome) {
        case CTILINK_DIAL_OUTCOME_ANSWERED: return 0;
        case CTILINK_DIAL_OUTCOME_BUSY: return 3;
        case CTILINK_DIAL_OUTCOME_NO_ANSWER: return 4;
        default: return 1;
    }
}
