#ifndef SWIFT_RAS_UMOCKDEV_SHIM_H
#define SWIFT_RAS_UMOCKDEV_SHIM_H
/* The few libumockdev calls the discovery tests and benchmark use (apt: libumockdev-dev),
   declared here so that Swift need not import the GLib/GIO headers that umockdev.h pulls in.
   The prototypes match umockdev.h of umockdev 0.17 (gboolean is int; GError as in GLib).
   Test-only: the library code never links libumockdev. */

typedef struct _UMockdevTestbed UMockdevTestbed;

typedef struct _GError {
    unsigned int domain;
    int code;
    char *message;
} GError;

UMockdevTestbed *umockdev_testbed_new(void);
char *umockdev_testbed_get_root_dir(UMockdevTestbed *self);
int umockdev_testbed_add_from_file(UMockdevTestbed *self, const char *path, GError **error);
int umockdev_testbed_add_from_string(UMockdevTestbed *self, const char *data, GError **error);
void umockdev_testbed_remove_device(UMockdevTestbed *self, const char *syspath);
void umockdev_testbed_uevent(UMockdevTestbed *self, const char *devpath, const char *action);

void g_object_unref(void *object);
void g_error_free(GError *error);
void g_free(void *memory);

#endif
