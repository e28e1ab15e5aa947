#ifndef SWIFT_RAS_UMOCKDEV_FIXES_H
#define SWIFT_RAS_UMOCKDEV_FIXES_H
/* Linked into the programs that run under umockdev (the discovery test harness and the
   discovery benchmark) to work around two problems of umockdev 0.17 with emulated tty
   nodes: see umockdev_fixes.c. Nothing to call; linking the target is enough. */
#endif
