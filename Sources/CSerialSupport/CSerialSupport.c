#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/sysmacros.h>
#include "CSerialSupport.h"

int csupport_posix_openpt(int flags) { return posix_openpt(flags); }
int csupport_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int csupport_grantpt(int fd) { return grantpt(fd); }
int csupport_unlockpt(int fd) { return unlockpt(fd); }
int csupport_ptsname_r(int fd, char *buf, unsigned long len) { return ptsname_r(fd, buf, len); }

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
