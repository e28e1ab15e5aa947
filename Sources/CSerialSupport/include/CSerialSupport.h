#ifndef CSERIALSUPPORT_H
#define CSERIALSUPPORT_H
/* The few libc calls Swift's Glibc module leaves out because they sit behind
   _GNU_SOURCE / _XOPEN_SOURCE. Used only by the Serial module. */
int csupport_posix_openpt(int flags);
int csupport_pipe2(int fds[2], int flags);
int csupport_grantpt(int fd);
int csupport_unlockpt(int fd);
int csupport_ptsname_r(int fd, char *buf, unsigned long len);
#endif
