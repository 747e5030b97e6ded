#ifndef JULES_CEPOLL_SHIM_H
#define JULES_CEPOLL_SHIM_H

/* epoll(7) for jules-bench's client: Swift's Glibc module does not include <sys/epoll.h>. */
#include <sys/epoll.h>

#endif
