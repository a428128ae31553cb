// trainer/explain/: explanation settings and relevance summaries. Its headers are for targets that link resilinet_explain,
// which defines RESILINET_ROOM_EXPLAIN: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_EXPLAIN
#error "trainer/explain/ is included from a target that does not link resilinet_explain"
#endif
