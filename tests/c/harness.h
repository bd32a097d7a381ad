/*
 * Shared helpers of the C tests: checks that stop the program with a message, and a
 * reader of a session's events that checks the order the header promises: a NEW_CALL
 * precedes every state event of a call, and a call-starting request completes before
 * its call is announced.
 */
#ifndef CTILINK_TEST_HARNESS_H
#define CTILINK_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctilink.h"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

#define CHECK_RESULT(expr, want)                                                          \
    do {                                                                                  \
        ctilink_result got_ = (expr);                                                     \
        if (got_ != (ctilink_result)(want)) {                                             \
            char msg_[256];                                                               \
            size_t n_ = 0;                                                                \
            ctilink_last_error_message(msg_, sizeof msg_, &n_);                           \
            fprintf(stderr, "%s:%d: %s gave %u, want %u (%.*s)\n", __FILE__, __LINE__,    \
                    #expr, (unsigned)got_, (unsigned)(want), (int)n_, msg_);              \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

#define CHECK_OK(expr) CHECK_RESULT(expr, CTILINK_RESULT_OK)

static inline int str_is(ctilink_str s, const char *want) {
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}

/* Copies a ctilink_str into a buffer (truncating), for keeping ids past the event. */
static inline void copy_str(char *dst, size_t cap, ctilink_str s) {
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    memcpy(dst, s.data, n);
    dst[n] = '\0';
}

static inline long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The calls announced so far, and the requests completed. */
typedef struct {
    char calls[64][CTILINK_CALL_ID_MAX];
    int ncalls;
    uint64_t completed[64];
    int ncompleted;
} order_t;

static inline int order_known(const order_t *o, ctilink_str id) {
    for (int i = 0; i < o->ncalls; i++)
        if (str_is(id, o->calls[i])) return i;
    return -1;
}

static inline int order_completed(const order_t *o, uint64_t req) {
    for (int i = 0; i < o->ncompleted; i++)
        if (o->completed[i] == req) return 1;
    return 0;
}

static inline int is_call_state(ctilink_event_type t) {
    return t >= CTILINK_EVENT_TYPE_ORIGINATED && t <= CTILINK_EVENT_TYPE_CALL_CLEARED;
}

/* Checks one event against the order promises and records it. */
static inline void order_check(order_t *o, const ctilink_event *ev) {
    ctilink_event_type t = ctilink_event_get_type(ev);
    ctilink_str call = ctilink_event_call_id(ev);
    fprintf(stderr, "  event %.*s call=%.*s device=%.*s\n", (int)ctilink_event_kind(ev).len,
            ctilink_event_kind(ev).data, (int)call.len, call.data,
            (int)ctilink_event_device(ev).len, ctilink_event_device(ev).data);
    if (t == CTILINK_EVENT_TYPE_NEW_CALL) {
        fprintf(stderr, "    %.*s\n", (int)ctilink_event_json(ev).len, ctilink_event_json(ev).data);
        CHECK(order_known(o, call) < 0);
        uint64_t req = ctilink_event_request_id(ev);
        CHECK(req == 0 || order_completed(o, req));
        CHECK(o->ncalls < 64);
        copy_str(o->calls[o->ncalls++], CTILINK_CALL_ID_MAX, call);
    } else if (t == CTILINK_EVENT_TYPE_REQUEST_COMPLETED) {
        uint64_t req = ctilink_event_request_id(ev);
        CHECK(req != 0 && !order_completed(o, req));
        if (o->ncompleted == 64) o->ncompleted = 0;
        o->completed[o->ncompleted++] = req;
    } else if (is_call_state(t)) {
        int i = order_known(o, call);
        if (i < 0) {
            fprintf(stderr, "state event of call %.*s before its NEW_CALL\n", (int)call.len, call.data);
            exit(1);
        }
        if (t == CTILINK_EVENT_TYPE_CALL_CLEARED) {
            memmove(o->calls[i], o->calls[o->ncalls - 1], CTILINK_CALL_ID_MAX);
            o->ncalls--;
        }
    } else if (t == CTILINK_EVENT_TYPE_LINK_DOWN) {
        o->ncalls = 0; /* the host forgets every call; they are announced again */
    }
}

/* The next event within timeout_ms, checked for order; exits on timeout or close. */
static inline ctilink_event *next_checked(ctilink_session *s, order_t *o, unsigned timeout_ms) {
    ctilink_event *ev = NULL;
    ctilink_result r = ctilink_session_next_event(s, timeout_ms, &ev);
    if (r != CTILINK_RESULT_OK) {
        fprintf(stderr, "next_event gave %u\n", (unsigned)r);
        exit(1);
    }
    order_check(o, ev);
    return ev;
}

/* Reads events until one of type `t` (and, if `device` is not NULL, of that device)
 * comes; returns it (the caller frees it). Other events are checked and freed. */
static inline ctilink_event *wait_for(ctilink_session *s, order_t *o, ctilink_event_type t,
                                      const char *device, unsigned timeout_ms) {
    long long deadline = now_ms() + timeout_ms;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0) {
            fprintf(stderr, "no event of type %u for %s in %u ms\n", (unsigned)t,
                    device ? device : "any device", timeout_ms);
            exit(1);
        }
        ctilink_event *ev = next_checked(s, o, (unsigned)left);
        if (ctilink_event_get_type(ev) == t &&
            (device == NULL || str_is(ctilink_event_device(ev), device)))
            return ev;
        ctilink_event_free(ev);
    }
}

/* Waits for the completion of request `req` and returns its result. */
static inline ctilink_result wait_completion(ctilink_session *s, order_t *o, uint64_t req,
                                             char *call_id_out) {
    long long deadline = now_ms() + 10000;
    for (;;) {
        CHECK(now_ms() < deadline);
        ctilink_event *ev = next_checked(s, o, 10000);
        if (ctilink_event_get_type(ev) == CTILINK_EVENT_TYPE_REQUEST_COMPLETED &&
            ctilink_event_request_id(ev) == req) {
            ctilink_result r = ctilink_event_result(ev);
            if (r != CTILINK_RESULT_OK)
                fprintf(stderr, "  request %llu: %.*s\n", (unsigned long long)req,
                        (int)ctilink_event_message(ev).len, ctilink_event_message(ev).data);
            if (call_id_out) copy_str(call_id_out, CTILINK_CALL_ID_MAX, ctilink_event_call_id(ev));
            ctilink_event_free(ev);
            return r;
        }
        ctilink_event_free(ev);
    }
}

/* Reads the first event, which must announce a call that exists at connect; copies its id. */
static inline void expect_existing_call(ctilink_session *s, order_t *o, char *call_out) {
    ctilink_event *ev = next_checked(s, o, 5000);
    CHECK(ctilink_event_get_type(ev) == CTILINK_EVENT_TYPE_NEW_CALL);
    CHECK(ctilink_event_request_id(ev) == 0);
    copy_str(call_out, CTILINK_CALL_ID_MAX, ctilink_event_call_id(ev));
    ctilink_event_free(ev);
}

/* Tells the test driver a step was reached, and waits for its go-ahead line. */
static inline void sync_with_driver(const char *step) {
    char line[64];
    printf("%s\n", step);
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) {
        fprintf(stderr, "the driver went away at %s\n", step);
        exit(1);
    }
}

static inline ctilink_session *connect_or_die(const char *url) {
    ctilink_options *opts = NULL;
    ctilink_session *s = NULL;
    CHECK_OK(ctilink_options_new(&opts));
    CHECK_OK(ctilink_options_set_url(opts, url));
    CHECK_OK(ctilink_session_connect(opts, &s));
    ctilink_options_free(opts);
    return s;
}

/* Closes, reads what remains (checking order) until CLOSED, frees. */
static inline void close_and_free(ctilink_session *s, order_t *o) {
    CHECK_OK(ctilink_session_close(s));
    for (;;) {
        ctilink_event *ev = NULL;
        ctilink_result r = ctilink_session_next_event(s, 5000, &ev);
        if (r == CTILINK_RESULT_CLOSED) break;
        CHECK(r == CTILINK_RESULT_OK);
        order_check(o, ev);
        ctilink_event_free(ev);
    }
    ctilink_session_free(s);
}

#endif
