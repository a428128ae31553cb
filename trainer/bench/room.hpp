// trainer/bench/: benchmarks of model variants and of transfer to held-out regions, run as child
// processes of the `resilinet` binary. Its headers are for targets that link resilinet_bench,
// which defines RESILINET_ROOM_BENCH: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_BENCH
#error "trainer/bench/ is included from a target that does not link resilinet_bench"
#endif
