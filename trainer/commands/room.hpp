// trainer/commands/: the CLI commands of the resilinet binary. Its headers are for targets that link resilinet_commands,
// which defines RESILINET_ROOM_COMMANDS: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_COMMANDS
#error "trainer/commands/ is included from a target that does not link resilinet_commands"
#endif
