// trainer/report/: the evaluation report per region (JSON and HTML). Its headers are for targets that link resilinet_report,
// which defines RESILINET_ROOM_REPORT: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_REPORT
#error "trainer/report/ is included from a target that does not link resilinet_report"
#endif
