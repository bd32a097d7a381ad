/*
 * An incoming call seen through the C ABI, by pull or by callback.
 * Usage: incoming_call_test URL pull|callback
 * Protocol with the driver: prints READY (the driver then makes 101 call 100), RINGING
 * once 100 rings (the driver then hangs 101 up), CLEARED at the end.
 */
#include <pthread.h>

#include "harness.h"

#define LINECALLSTATE_OFFERING 0x00000002u
#define LINECALLSTATE_IDLE 0x00000001u

/* What the callback saw, for the main thread. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    order_t order;
    pthread_t main_thread;
    int on_other_thread;
    int ringing;
    int cleared;
    int wrong_state_seen;
    int events;
} seen;

static ctilink_session *callback_session;

static void on_event(void *userdata, const ctilink_event *ev) {
    CHECK(userdata == &seen);
    pthread_mutex_lock(&seen.lock);
    seen.events++;
    seen.on_other_thread = !pthread_equal(pthread_self(), seen.main_thread);
    order_check(&seen.order, ev);
    ctilink_event_type t = ctilink_event_get_type(ev);
    if (t == CTILINK_EVENT_TYPE_DELIVERED && str_is(ctilink_event_device(ev), "100")) {
        CHECK(str_is(ctilink_event_caller_number(ev), "101"));
        CHECK(ctilink_event_tapi_call_state(ev) == LINECALLSTATE_OFFERING);
        seen.ringing = 1;
    }
    if (t == CTILINK_EVENT_TYPE_CALL_CLEARED) seen.cleared = 1;
    /* Pulling or closing from the callback is refused, not a deadlock. */
    if (callback_session && !seen.wrong_state_seen) {
        ctilink_event *other = NULL;
        CHECK(ctilink_session_next_event(callback_session, 0, &other) == CTILINK_RESULT_WRONG_STATE);
        CHECK(other == NULL);
        CHECK(ctilink_session_close(callback_session) == CTILINK_RESULT_WRONG_STATE);
        seen.wrong_state_seen = 1;
    }
    pthread_cond_broadcast(&seen.changed);
    pthread_mutex_unlock(&seen.lock);
}

static void wait_seen(int *flag) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&seen.lock);
    while (!*flag) CHECK(pthread_cond_timedwait(&seen.changed, &seen.lock, &until) == 0);
    pthread_mutex_unlock(&seen.lock);
}

static int by_callback(const char *url) {
    pthread_mutex_init(&seen.lock, NULL);
    pthread_cond_init(&seen.changed, NULL);
    seen.main_thread = pthread_self();
    ctilink_options *opts = NULL;
    CHECK_OK(ctilink_options_new(&opts));
    CHECK_OK(ctilink_options_set_url(opts, url));
    CHECK_OK(ctilink_options_set_monitor(opts, "100,101"));
    CHECK_OK(ctilink_options_set_event_callback(opts, on_event, &seen));
    ctilink_session *s = NULL;
    CHECK_OK(ctilink_session_connect(opts, &s));
    ctilink_options_free(opts);
    pthread_mutex_lock(&seen.lock);
    callback_session = s;
    pthread_mutex_unlock(&seen.lock);
    ctilink_event *ev = NULL;
    CHECK(ctilink_session_next_event(s, 0, &ev) == CTILINK_RESULT_WRONG_STATE);
    sync_with_driver("READY");
    wait_seen(&seen.ringing);
    sync_with_driver("RINGING");
    wait_seen(&seen.cleared);
    CHECK_OK(ctilink_session_close(s));
    /* After close returns, no callback runs any more. */
    pthread_mutex_lock(&seen.lock);
    int events = seen.events;
    CHECK(seen.on_other_thread && seen.wrong_state_seen);
    pthread_mutex_unlock(&seen.lock);
    ctilink_session_free(s);
    CHECK(events == seen.events);
    pthread_cond_destroy(&seen.changed);
    pthread_mutex_destroy(&seen.lock);
    printf("CLEARED\n");
    return 0;
}

static int by_pull(const char *url) {
    order_t order = {0};
    ctilink_session *s = connect_or_die(url);
    ctilink_event *ev = NULL;
    CHECK(ctilink_session_next_event(s, 0, &ev) == CTILINK_RESULT_NO_EVENT);
    CHECK(ev == NULL);
    sync_with_driver("READY");
    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_DELIVERED, "100", 20000);
    CHECK(str_is(ctilink_event_caller_number(ev), "101"));
    CHECK(str_is(ctilink_event_calling_device(ev), "101"));
    CHECK(ctilink_event_tapi_call_state(ev) == LINECALLSTATE_OFFERING);
    uint32_t state = 0, mode = 0;
    CHECK(ctilink_event_line_call_state(ev, "100", &state, &mode) && state == LINECALLSTATE_OFFERING);
    char call[CTILINK_CALL_ID_MAX];
    copy_str(call, sizeof call, ctilink_event_call_id(ev));
    ctilink_event_free(ev);
    sync_with_driver("RINGING");
    ev = wait_for(s, &order, CTILINK_EVENT_TYPE_CALL_CLEARED, NULL, 20000);
    CHECK(str_is(ctilink_event_call_id(ev), call));
    CHECK(ctilink_event_line_call_state(ev, "100", &state, &mode) && state == LINECALLSTATE_IDLE);
    ctilink_event_free(ev);
    close_and_free(s, &order);
    printf("CLEARED\n");
    return 0;
}

int main(int argc, char **argv) {
    CHECK(argc == 3);
    if (strcmp(argv[2], "callback") == 0) return by_callback(argv[1]);
    return by_pull(argv[1]);
}
