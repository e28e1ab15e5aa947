#define _GNU_SOURCE
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/sysmacros.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <spawn.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/serial.h>
#include "CSystemSupport.h"

int csupport_posix_openpt(int flags) { return posix_openpt(flags); }
int csupport_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int csupport_grantpt(int fd) { return grantpt(fd); }
int csupport_unlockpt(int fd) { return unlockpt(fd); }
int csupport_ptsname_r(int fd, char *buf, unsigned long len) { return ptsname_r(fd, buf, len); }

int csupport_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int csupport_peer_credentials(int fd, int *pid, unsigned int *uid, unsigned int *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}

int csupport_peer_groups(int fd, unsigned int *groups, int max) {
    if (max < 0) { errno = EINVAL; return -1; }
    socklen_t len = (socklen_t)(sizeof(gid_t) * (size_t)max);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) return -1;
    return (int)(len / sizeof(gid_t));
}

unsigned int csupport_major(unsigned long device) { return major((dev_t)device); }
unsigned int csupport_minor(unsigned long device) { return minor((dev_t)device); }

static int fill_address(struct sockaddr_un *address, const char *path) {
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof(address->sun_path)) { errno = ENAMETOOLONG; return -1; }
    memset(address, 0, sizeof(*address));
    address->sun_family = AF_UNIX;
    memcpy(address->sun_path, path, length + 1);
    return 0;
}

int csupport_unix_bind(int fd, const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) return -1;
    return bind(fd, (struct sockaddr *)&address, sizeof(address));
}

int csupport_unix_connect(int fd, const char *path) {
    struct sockaddr_un address;
    if (fill_address(&address, path) != 0) return -1;
    return connect(fd, (struct sockaddr *)&address, sizeof(address));
}

int csupport_accept(int fd) { return accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }

int csupport_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int csupport_epoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long token) {
    struct epoll_event event;
    memset(&event, 0, sizeof(event));
    event.events = events;
    event.data.u64 = token;
    return epoll_ctl(epfd, op, fd, &event);
}

int csupport_epoll_wait(int epfd, unsigned long long *tokens, unsigned int *events, int max, int timeout) {
    struct epoll_event buffer[256];
    if (max > 256) max = 256;
    int count = epoll_wait(epfd, buffer, max, timeout);
    for (int i = 0; i < count; i++) {
        tokens[i] = buffer[i].data.u64;
        events[i] = buffer[i].events;
    }
    return count;
}

int csupport_epoll_add(void) { return EPOLL_CTL_ADD; }
int csupport_epoll_mod(void) { return EPOLL_CTL_MOD; }
int csupport_epoll_del(void) { return EPOLL_CTL_DEL; }

int csupport_error_counters(int fd, int *frame, int *parity, int *overrun, int *buffer_overrun, int *brk) {
    struct serial_icounter_struct counters;
    memset(&counters, 0, sizeof(counters));
    if (ioctl(fd, TIOCGICOUNT, &counters) != 0) return -1;
    *frame = counters.frame;
    *parity = counters.parity;
    *overrun = counters.overrun;
    *buffer_overrun = counters.buf_overrun;
    *brk = counters.brk;
    return 0;
}

int csupport_spawn(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, int *pid) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    int result = posix_spawn_file_actions_init(&actions);
    if (result != 0) return result;
    result = posix_spawnattr_init(&attributes);
    if (result != 0) { posix_spawn_file_actions_destroy(&actions); return result; }
    int fds[3] = { in_fd, out_fd, err_fd };
    for (int target = 0; target < 3 && result == 0; target++) {
        if (fds[target] >= 0) result = posix_spawn_file_actions_adddup2(&actions, fds[target], target);
        else result = posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0);
    }
    // Nothing but 0, 1 and 2 reaches the child: a descriptor this process inherited without
    // close-on-exec (a parent's pipe or socket) would otherwise live on in pppd, and whoever
    // waits for that descriptor's end would wait for pppd too.
    if (result == 0) result = posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (result == 0) result = posix_spawnattr_setsigmask(&attributes, &none);
    if (result == 0) result = posix_spawnattr_setsigdefault(&attributes, &all);
    if (result == 0) result = posix_spawnattr_setpgroup(&attributes, 0);
    if (result == 0) result = posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    if (result == 0) {
        pid_t child = 0;
        result = posix_spawn(&child, path, &actions, &attributes, argv, envp);
        if (result == 0) *pid = child;
    }
    posix_spawnattr_destroy(&attributes);
    posix_spawn_file_actions_destroy(&actions);
    return result;
}

int csupport_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int csupport_reap(int pid, int *exited, int *code) {
    int status = 0;
    pid_t result;
    do { result = waitpid(pid, &status, WNOHANG); } while (result < 0 && errno == EINTR);
    if (result <= 0) return result;
    if (WIFEXITED(status)) { *exited = 1; *code = WEXITSTATUS(status); }
    else { *exited = 0; *code = WIFSIGNALED(status) ? WTERMSIG(status) : 0; }
    return 1;
}

static int tcp_socket(const char *host, const char *port, int passive, int *resolve_error, struct addrinfo **out) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
    int error = getaddrinfo(host, port, &hints, out);
    if (error != 0) {
        *resolve_error = error;
        return -2;
    }
    int fd = socket((*out)->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_TCP);
    if (fd < 0) {
        int saved = errno;
        freeaddrinfo(*out);
        errno = saved;
        return -1;
    }
    return fd;
}

int csupport_tcp_connect(const char *host, const char *port, int *resolve_error) {
    struct addrinfo *info = NULL;
    int fd = tcp_socket(host, port, 0, resolve_error, &info);
    if (fd < 0) return fd;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int result = connect(fd, info->ai_addr, info->ai_addrlen);
    int saved = errno;
    freeaddrinfo(info);
    if (result != 0 && saved != EINPROGRESS) {
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int csupport_tcp_listen(const char *host, const char *port, int backlog, int *resolve_error) {
    struct addrinfo *info = NULL;
    int fd = tcp_socket(host, port, 1, resolve_error, &info);
    if (fd < 0) return fd;
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, info->ai_addr, info->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        int saved = errno;
        freeaddrinfo(info);
        close(fd);
        errno = saved;
        return -1;
    }
    freeaddrinfo(info);
    return fd;
}

int csupport_socket_error(int fd) {
    int error = 0;
    socklen_t length = sizeof(error);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return -1;
    return error;
}

int csupport_local_port(int fd) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&address)->sin_port);
    if (address.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&address)->sin6_port);
    errno = EAFNOSUPPORT;
    return -1;
}

int csupport_peer_address(int fd, char *text, unsigned long size) {
    struct sockaddr_storage address;
    socklen_t length = sizeof(address);
    if (getpeername(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    char host[NI_MAXHOST];
    char port[NI_MAXSERV];
    if (getnameinfo((struct sockaddr *)&address, length, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        errno = EINVAL;
        return -1;
    }
    snprintf(text, size, address.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, port);
    return 0;
}

const char *csupport_resolve_error_text(int error) { return gai_strerror(error); }
