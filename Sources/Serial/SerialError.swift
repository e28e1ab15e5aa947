import SystemPackage

/// An error from the serial layer. Every case keeps the path it concerns and, where a
/// system call failed, its `errno`, so that callers can map it to a RAS error without
/// parsing text.
public enum SerialError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed.
    case system(operation: String, path: String, errno: Errno)
    /// The device does not support the operation, e.g. modem lines on a pseudo-terminal.
    case unsupported(operation: String, path: String)
    /// The speed is not a termios speed, or the kernel refused it for this device.
    case unsupportedSpeed(Int, path: String)
    /// The device hung up: a USB modem was unplugged, a pty master was closed, or the
    /// carrier dropped while `CLOCAL` was off. The descriptor is useless from now on.
    case hangUp(path: String)
    /// The port or terminal was already closed by this process.
    case closed(path: String)
    /// A deadline passed before the operation could finish.
    case timedOut(operation: String, path: String)
    /// Another descriptor holds the device exclusively (`TIOCEXCL` or `flock`).
    case inUse(path: String)
    /// Another live process holds the UUCP lock of the device.
    case locked(path: String, lockFile: String, pid: Int32)
    /// The calling task was cancelled while it waited.
    case cancelled(operation: String, path: String)

    /// The `errno` of a failed system call, if this error came from one.
    public var errno: Errno? {
        if case .system(_, _, let errno) = self { return errno }
        return nil
    }

    /// The device path this error concerns.
    public var path: String {
        switch self {
        case .system(_, let path, _), .unsupported(_, let path), .unsupportedSpeed(_, let path),
             .hangUp(let path), .closed(let path), .inUse(let path), .timedOut(_, let path), .locked(let path, _, _),
             .cancelled(_, let path):
            return path
        }
    }

    public var description: String {
        switch self {
        case .system(let operation, let path, let errno):
            return "\(operation) \(path): \(errno) (errno \(errno.rawValue))"
        case .unsupported(let operation, let path):
            return "\(operation) \(path): not supported on this device"
        case .unsupportedSpeed(let speed, let path):
            return "\(path): speed \(speed) is not supported"
        case .hangUp(let path):
            return "\(path): the device hung up (unplugged or carrier lost)"
        case .closed(let path):
            return "\(path): the port is closed"
        case .timedOut(let operation, let path):
            return "\(operation) \(path): timed out"
        case .inUse(let path):
            return "\(path): the device is in use by another program"
        case .locked(let path, let lockFile, let pid):
            return "\(path): in use by process \(pid) (lock file \(lockFile))"
        case .cancelled(let operation, let path):
            return "\(operation) \(path): cancelled"
        }
    }
}
