#ifndef CSYSTEMSUPPORT_H
#define CSYSTEMSUPPORT_H
/* The few libc calls Swift's Glibc module leaves out because they sit behind
   _GNU_SOURCE / _XOPEN_SOURCE. Used only by the SystemIO module (descriptors, sockets,
   epoll, processes) and the Serial module (ptys, line error counters). */
int csupport_posix_openpt(int flags);
int csupport_pipe2(int fds[2], int flags);
int csupport_grantpt(int fd);
int csupport_unlockpt(int fd);
int csupport_ptsname_r(int fd, char *buf, unsigned long len);
/* SO_PEERCRED of a connected Unix socket; 0 or -1 with errno. */
int csupport_peer_credentials(int fd, int *pid, unsigned int *uid, unsigned int *gid);
/* SO_PEERGROUPS of a connected Unix socket (Linux 4.13+): the peer's supplementary groups
   when it connected. Returns how many (at most max are stored) or -1 with errno. */
int csupport_peer_groups(int fd, unsigned int *groups, int max);
/* Major and minor numbers of a dev_t. */
unsigned int csupport_major(unsigned long device);
unsigned int csupport_minor(unsigned long device);
/* Binds/connects an AF_UNIX stream socket to a path; -1 with errno (ENAMETOOLONG if it
   does not fit sun_path). */
int csupport_unix_bind(int fd, const char *path);
int csupport_unix_connect(int fd, const char *path);
/* rename(2) that fails with EEXIST instead of replacing what is at `to` (renameat2 with
   RENAME_NOREPLACE); -1 with errno. */
int csupport_rename_noreplace(const char *from, const char *to);
/* accept4 with SOCK_CLOEXEC | SOCK_NONBLOCK. */
int csupport_accept(int fd);
/* epoll, which Swift's Glibc module leaves out. The event's data is a 64-bit token.
   csupport_epoll_wait stores up to max (token, events) pairs; returns the count or -1. */
int csupport_epoll_create(void);
int csupport_epoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long token);
int csupport_epoll_wait(int epfd, unsigned long long *tokens, unsigned int *events, int max, int timeout);
/* EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL. */
int csupport_epoll_add(void);
int csupport_epoll_mod(void);
int csupport_epoll_del(void);
/* TIOCGICOUNT: the driver's line error counters. 0, or -1 with errno (ENOTTY, EINVAL:
   the driver keeps none, e.g. a pty). */
int csupport_error_counters(int fd, int *frame, int *parity, int *overrun, int *buffer_overrun, int *brk);
/* posix_spawn with stdin, stdout and stderr from the given descriptors (-1: /dev/null),
   every signal at its default action and none blocked (a daemon ignores SIGTERM and
   SIGPIPE; exec keeps ignored signals ignored), in a new process group. Returns 0 and the
   pid, or an errno value. */
int csupport_spawn(const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd, int *pid);
/* pidfd_open(2): a descriptor that polls readable when the process exits; -1 with errno. */
int csupport_pidfd_open(int pid);
/* waitpid(pid, WNOHANG): 1 and the status when it has exited, 0 when it runs, -1 with errno. */
int csupport_reap(int pid, int *exited, int *code);
/* TCP (IPv4 or IPv6). csupport_tcp_connect starts a non-blocking connect to host:port
   (TCP_NODELAY, SOCK_CLOEXEC) and returns the descriptor (the connect may still be in
   progress: wait for POLLOUT, then csupport_socket_error); csupport_tcp_listen binds and
   listens (SO_REUSEADDR). Both return -1 with errno for a socket failure, or -2 with
   *resolve_error set to a getaddrinfo error for a name that does not resolve. */
int csupport_tcp_connect(const char *host, const char *port, int *resolve_error);
int csupport_tcp_listen(const char *host, const char *port, int backlog, int *resolve_error);
/* The pending error of a socket (SO_ERROR): 0 or an errno value; -1 with errno. */
int csupport_socket_error(int fd);
/* The local port a socket is bound to, or -1 with errno. */
int csupport_local_port(int fd);
/* The peer of a connected socket as numeric text, "192.0.2.1:5000" or "[2001:db8::1]:5000",
   into text (size bytes); 0, or -1 with errno (or EINVAL when getnameinfo failed). */
int csupport_peer_address(int fd, char *text, unsigned long size);
/* getaddrinfo's text for an error it returned. */
const char *csupport_resolve_error_text(int error);
#endif
