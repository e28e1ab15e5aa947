import Glibc
import SystemIO

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

    /// Runs a libudev call that returns `NULL` and sets `errno` on failure, through the
    /// errno funnel (`SystemIO`'s `Syscall`): its result, or ``udev(operation:errno:)``.
    static func checking<T>(_ operation: String, _ call: () -> T?) throws(DiscoveryError) -> T {
        switch Syscall.pointerResult(call) {
        case .success(let value): return value
        case .failure(let errno): throw .udev(operation: operation, errno: errno.rawValue)
        }
    }
}
