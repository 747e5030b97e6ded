#ifndef JULES_CEPOLL_SHIM_H
#define JULES_CEPOLL_SHIM_H

/* epoll(7) and timerfd(2) for jules-bench's client: Swift's Glibc module includes neither header. */
#include <sys/epoll.h>
#include <sys/timerfd.h>

#endif
