// Keeps the reference library non-empty until the first reference kernels land.
namespace resilinet::kernels::reference { int reference_placeholder = 0; }
