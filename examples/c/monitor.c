/*
 * Watch a PBX from C: the extensions' states, then every event as one line, by callback
 * on the session's event thread, for SECONDS seconds (or until the PBX link closes).
 *
 *   cc monitor.c -o monitor $(pkg-config --cflags --libs ctilink)
 *   ./monitor 'ami://admin:secret@pbx:5038' 60
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ctilink.h"

static const char *state_name(ctilink_device_state s) {
    switch (s) {
        case CTILINK_DEVICE_STATE_IDLE: return "idle";
        case CTILINK_DEVICE_STATE_IN_USE: return "in use";
        case CTILINK_DEVICE_STATE_BUSY: return "busy";
        case CTILINK_DEVICE_STATE_RINGING: return "ringing";
        case CTILINK_DEVICE_STATE_RING_IN_USE: return "ringing, in use";
        case CTILINK_DEVICE_STATE_ON_HOLD: return "on hold";
        case CTILINK_DEVICE_STATE_UNAVAILABLE: return "unavailable";
        default: return "unknown";
    }
}

/* Runs on the session's event thread, one event at a time: print and return at once. */
static void on_event(void *userdata, const ctilink_event *ev) {
    unsigned long *count = userdata;
    ctilink_str kind = ctilink_event_kind(ev), call = ctilink_event_call_id(ev);
    ctilink_str device = ctilink_event_device(ev), caller = ctilink_event_caller_number(ev);
    printf("%-18.*s call=%.*s device=%.*s", (int)kind.len, kind.data, (int)call.len, call.data,
           (int)device.len, device.data);
    if (caller.len) printf(" caller=%.*s", (int)caller.len, caller.data);
    if (ctilink_event_get_type(ev) == CTILINK_EVENT_TYPE_DEVICE_STATE)
        printf(" state=%s", state_name(ctilink_event_device_state(ev)));
    printf("\n");
    fflush(stdout);
    (*count)++;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: monitor URL SECONDS\n");
        return 2;
    }
    unsigned long count = 0;
    ctilink_options *opts = NULL;
    ctilink_session *session = NULL;
    ctilink_result r = ctilink_options_new(&opts);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_url(opts, argv[1]);
    if (r == CTILINK_RESULT_OK) r = ctilink_options_set_event_callback(opts, on_event, &count);
    if (r == CTILINK_RESULT_OK) r = ctilink_session_connect(opts, &session);
    ctilink_options_free(opts);
    if (r != CTILINK_RESULT_OK) {
        char detail[256];
        size_t n = 0;
        if (ctilink_last_error_message(detail, sizeof detail, &n) != CTILINK_RESULT_OK) detail[0] = '\0';
        fprintf(stderr, "connect failed (%u): %s\n", (unsigned)r, detail);
        return 1;
    }

    ctilink_snapshot *snap = NULL;
    if (ctilink_session_snapshot(session, &snap) == CTILINK_RESULT_OK) {
        for (size_t i = 0; i < ctilink_snapshot_device_count(snap); i++) {
            const ctilink_device *d = ctilink_snapshot_device_at(snap, i);
            ctilink_str id = ctilink_device_id(d);
            printf("extension %.*s: %s%s\n", (int)id.len, id.data, state_name(ctilink_device_get_state(d)),
                   ctilink_device_do_not_disturb(d) ? " (do not disturb)" : "");
        }
        printf("%zu calls in progress\n", ctilink_snapshot_call_count(snap));
        fflush(stdout);
        ctilink_snapshot_free(snap);
    }

    struct timespec tick = {0, 100 * 1000 * 1000};
    for (long i = 0; i < atol(argv[2]) * 10 && ctilink_session_status(session) != CTILINK_LINK_STATUS_CLOSED; i++)
        nanosleep(&tick, NULL);

    /* After close returns, the callback has seen every event and runs no more. */
    ctilink_session_close(session);
    ctilink_session_free(session);
    printf("%lu events\n", count);
    return 0;
}
