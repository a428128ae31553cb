// trainer/scenario/: what-if scenarios (edits of features re-rated with a frozen model) and goal
// seeking. Its headers are for targets that link resilinet_scenario, which defines
// RESILINET_ROOM_SCENARIO: a room below this one that includes them fails here, so a layering
// inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_SCENARIO
#error "trainer/scenario/ is included from a target that does not link resilinet_scenario"
#endif
