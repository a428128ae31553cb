/* Preloaded by scripts/sanitize-check.sh: dlclose() does nothing, so plugins (OpenMPI's and PMIx's
   mca_*.so) stay mapped until exit. LeakSanitizer reports at exit; allocations made by a plugin
   that was unloaded by then have stacks of "<unknown module>" that no suppression can name, while
   with the plugin still mapped they match the library suppressions in lsan.supp. Built without
   sanitizers, so it also loads into uninstrumented processes (mpirun, python3). */
int dlclose(void* handle) {
  (void)handle;
  return 0;
}
