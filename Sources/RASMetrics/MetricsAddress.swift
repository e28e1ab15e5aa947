import SystemIO

/// Where the metrics endpoint listens: `rasmand --metrics-listen HOST:PORT` (port 0: any
/// free port; the log says which).
public typealias MetricsAddress = HostPort

/// Why a `--metrics-listen` value is not `HOST:PORT`.
public typealias MetricsAddressError = HostPort.Problem
