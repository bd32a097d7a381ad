/* Resource ids of ctilink.tsp's configuration dialog (ctilink_tsp.rc). */
#define IDD_CONFIG 100
#define IDC_URL 101
#define IDC_LINES 102
#define IDC_TEST 103
#define IDC_STATUS 104
