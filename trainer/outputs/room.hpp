// trainer/outputs/: what runs write: progress lines and metrics, atomic files, ratings files. Its headers are for targets that link resilinet_outputs,
// which defines RESILINET_ROOM_OUTPUTS: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_OUTPUTS
#error "trainer/outputs/ is included from a target that does not link resilinet_outputs"
#endif
