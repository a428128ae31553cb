// trainer/stages/: the training stages, their metrics and the run that chains them. Its headers are for targets that link resilinet_stages,
// which defines RESILINET_ROOM_STAGES: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_STAGES
#error "trainer/stages/ is included from a target that does not link resilinet_stages"
#endif
