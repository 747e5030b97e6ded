#ifndef JULES_CHIREDIS_SHIM_H
#define JULES_CHIREDIS_SHIM_H

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <hiredis/hiredis.h>

/* redisGetReply, plus the errno of a failure. hiredis reports a socket timeout (SO_RCVTIMEO/SO_SNDTIMEO)
 * only as REDIS_ERR_IO with errno EAGAIN, so errno must be read here, before any Swift code can
 * overwrite it. */
static inline int jules_redis_get_reply(redisContext *context, void **reply, int *error_number) {
    errno = 0;
    int status = redisGetReply(context, reply);
    *error_number = errno;
    return status;
}

/* The context's error text; errstr is a fixed-size array, which Swift imports as a 128-element tuple. */
static inline const char *jules_redis_error_string(const redisContext *context) {
    return context->errstr;
}

/* Whether an idle connection must not be reused: hiredis marked it failed, or its socket is readable
 * (the server closed it, so read() would return EOF, or sent something nobody asked for) or hung up.
 * A zero timeout makes poll() answer at once, so this never blocks. */
static inline int jules_redis_is_stale(const redisContext *context) {
    if (context->err != 0) {
        return 1;
    }
    struct pollfd descriptor = {.fd = context->fd, .events = POLLIN, .revents = 0};
    int ready;
    do {
        ready = poll(&descriptor, 1, 0);
    } while (ready < 0 && errno == EINTR);
    return ready != 0;
}

/* hiredis writes with write(), not send(MSG_NOSIGNAL): writing to a socket the server closed raises SIGPIPE,
 * whose default action ends the process. Ignore it, unless the program installed a handler of its own;
 * the write then fails with EPIPE and the client reports a closed connection. */
static inline void jules_redis_ignore_sigpipe(void) {
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) == 0 && current.sa_handler == SIG_DFL) {
        signal(SIGPIPE, SIG_IGN);
    }
}

#endif
