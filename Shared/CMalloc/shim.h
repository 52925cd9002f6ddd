#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H
// glibc's malloc tuning (mallopt), for daemons that hold large state.
#include <malloc.h>
#endif
