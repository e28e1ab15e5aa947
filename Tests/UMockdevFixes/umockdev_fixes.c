/* Two workarounds for umockdev 0.17 (Debian 12), linked into the programs that run under
 * its preload library. Definitions in the executable are found before the preload
 * library's, also by the Swift runtime's own calls.
 *
 * 1. realpath() corrupts the heap. umockdev makes every emulated tty node, e.g.
 *    $UMOCKDEV_DIR/dev/ttyACM0, a symbolic link to a pty slave such as /dev/pts/5. Its
 *    realpath() wrapper resolves the trapped path, then strips the testbed prefix with
 *        memmove(r, r + prefix_len, strlen(r) - prefix_len + 1)
 *    but the result (/dev/pts/5) lies outside the testbed and is shorter than the prefix:
 *    the length underflows and the memmove tramples the heap. Serial's UUCP lock naming
 *    calls realpath() on the device path, so every probe of an emulated port crashed.
 *    Here, a /dev path whose emulated node links to a pty slave resolves the slave (which
 *    umockdev passes through untouched); everything else goes to the next realpath().
 *
 * 2. Every ioctl() on an emulated node goes to the testbed's default ioctl handler, which
 *    answers ENOTTY to what it does not know: TIOCEXCL, TIOCMGET, TIOCOUTQ… Our emulated
 *    nodes are real ptys, so ioctl() goes straight to the kernel here.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "UMockdevFixes.h"

typedef char *(*realpath_function)(const char *, char *);

char *realpath(const char *path, char *resolved) {
    static realpath_function next;
    if (next == NULL) {
        next = (realpath_function)dlsym(RTLD_NEXT, "realpath");
    }
    if (path != NULL && getenv("UMOCKDEV_DIR") != NULL && strncmp(path, "/dev/", 5) == 0) {
        char target[PATH_MAX];
        /* readlink() is trapped by umockdev: it reads the emulated node's link. */
        ssize_t length = readlink(path, target, sizeof target - 1);
        if (length > 0) {
            target[length] = '\0';
            if (strncmp(target, "/dev/pts/", 9) == 0) {
                return next(target, resolved);
            }
        }
    }
    return next(path, resolved);
}

int ioctl(int fd, unsigned long request, ...) {
    va_list arguments;
    va_start(arguments, request);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    return (int)syscall(SYS_ioctl, fd, request, argument);
}
