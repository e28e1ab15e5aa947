#ifndef SWIFT_RAS_CUDEV_SHIM_H
#define SWIFT_RAS_CUDEV_SHIM_H
/* libudev for the ModemDiscovery module (apt: libudev-dev, pkg-config: libudev).
   Only ModemDiscovery may import CUdev. */
#include <libudev.h>
#endif
