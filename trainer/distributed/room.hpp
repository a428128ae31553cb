// trainer/distributed/: the ranks of one job and the reductions between them (Communicator). Its
// headers are for targets that link resilinet_distributed, which defines RESILINET_ROOM_DISTRIBUTED:
// a room below this one that includes them fails here, so a layering inversion fails the build
// (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_DISTRIBUTED
#error "trainer/distributed/ is included from a target that does not link resilinet_distributed"
#endif
