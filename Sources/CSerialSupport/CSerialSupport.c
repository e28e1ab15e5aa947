#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "CSerialSupport.h"

int csupport_posix_openpt(int flags) { return posix_openpt(flags); }
int csupport_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
int csupport_grantpt(int fd) { return grantpt(fd); }
int csupport_unlockpt(int fd) { return unlockpt(fd); }
int csupport_ptsname_r(int fd, char *buf, unsigned long len) { return ptsname_r(fd, buf, len); }
