/*
 * A host that falls behind: with a queue of 16 events it reads nothing while the PBX is
 * busy, then gets LAGGED, and what it was told (NEW_CALL, CALL_CLEARED) matches the
 * model again: the calls it believes open are exactly the snapshot's.
 * Usage: lag_test URL
 * Protocol: prints READY; the driver makes calls and ends some; then sends a line.
 */
#include "harness.h"

int main(int argc, char **argv) {
    CHECK(argc == 2);
    ctilink_options *opts = NULL;
    ctilink_session *s = NULL;
    CHECK_OK(ctilink_options_new(&opts));
    CHECK_OK(ctilink_options_set_url(opts, argv[1]));
    CHECK_OK(ctilink_options_set_event_queue(opts, 16));
    CHECK_OK(ctilink_session_connect(opts, &s));
    ctilink_options_free(opts);
    sync_with_driver("READY");

    order_t order = {0};
    int lagged = 0;
    for (;;) {
        ctilink_event *ev = NULL;
        ctilink_result r = ctilink_session_next_event(s, 1500, &ev);
        if (r == CTILINK_RESULT_NO_EVENT) break;
        CHECK_OK(r);
        order_check(&order, ev);
        if (ctilink_event_get_type(ev) == CTILINK_EVENT_TYPE_LAGGED) {
            CHECK(ctilink_event_missed(ev) > 0);
            lagged = 1;
        }
        ctilink_event_free(ev);
    }
    CHECK(lagged);
    ctilink_snapshot *snap = NULL;
    CHECK_OK(ctilink_session_snapshot(s, &snap));
    fprintf(stderr, "  host believes %d calls open, the model has %zu\n", order.ncalls,
            ctilink_snapshot_call_count(snap));
    CHECK((size_t)order.ncalls == ctilink_snapshot_call_count(snap));
    for (int i = 0; i < order.ncalls; i++) CHECK(ctilink_snapshot_find_call(snap, order.calls[i]) != NULL);
    ctilink_snapshot_free(snap);
    close_and_free(s, &order);
    printf("done\n");
    return 0;
}
