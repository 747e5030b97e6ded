#ifndef JULES_CLIBPQ_SHIM_H
#define JULES_CLIBPQ_SHIM_H

// pkg-config (libpq.pc) supplies -I/usr/include/postgresql on Debian, so the plain include resolves there.
#include <libpq-fe.h>

#endif
