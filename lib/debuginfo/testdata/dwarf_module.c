/* A relocatable object shaped like a kernel module's .ko: dwarf_info_test.cc adds it with its
 * sections at chosen addresses, as the kernel placed a module's. Line numbers are tested. */
struct module_state {
  int users;
  struct module_state *next;
};

int module_counter = 3;
struct module_state module_state_global;

int module_fn(int x) {
  return x + module_counter + module_state_global.users;
}

int module_other(struct module_state *s) {
  return s->users;
}
