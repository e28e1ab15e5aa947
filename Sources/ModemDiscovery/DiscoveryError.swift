import Glibc

/// An error from modem discovery.
public enum DiscoveryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A libudev call failed; `errno` is the error it reported (0 if none).
    case udev(operation: String, errno: Int32)
    /// The monitor was closed while it was being used.
    case monitorClosed

    public var description: String {
        switch self {
        case .udev(let operation, let code):
            let reason = code == 0 ? "failed" : String(cString: strerror(code))
            return "libudev \(operation): \(reason) (errno \(code))"
        case .monitorClosed:
            return "the udev monitor is closed"
        }
    }

    /// A failure of a libudev call that returned `NULL` and set `errno`.
    static func fromErrno(_ operation: String) -> DiscoveryError {
        .udev(operation: operation, errno: errno)
    }
}
