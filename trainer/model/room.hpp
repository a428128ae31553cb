// trainer/model/: the model and its checkpoint: config, scaler, networks, optimizer state. Its headers are for targets that link resilinet_model,
// which defines RESILINET_ROOM_MODEL: a room below this one that includes them fails here, so a
// layering inversion fails the build (CMakeLists.txt lists the rooms in order).
#ifndef RESILINET_ROOM_MODEL
#error "trainer/model/ is included from a target that does not link resilinet_model"
#endif
