import SystemPackage

/// An error from the OS layer. Every case keeps the path (or label) it concerns and, where a
/// C call failed, the call's name and its `errno`, so that callers can classify it without
/// parsing text.
///
/// `Serial` reports the same failures as `SerialError`, with the same cases and the same
/// text (see `SerialError.init(_:)`).
public enum SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A C call failed: its name (`open`, `ioctl(TIOCEXCL)`, `getsockopt(SO_PEERCRED)`…),
    /// the path it concerned and the `errno` it set.
    case system(call: String, path: String, errno: Errno)
    /// The peer or device hung up: the other end of a socket closed it.
    case hangUp(path: String)
    /// The descriptor was already closed by this process.
    case closed(path: String)
    /// A deadline passed before the operation could finish.
    case timedOut(operation: String, path: String)
    /// Someone else holds it: a live process listens on the socket path, or another open
    /// file description holds the `flock`.
    case inUse(path: String)
    /// The calling task was cancelled while it waited.
    case cancelled(operation: String, path: String)
    /// The path names a FIFO, device, folder or socket where a regular file was expected
    /// (a phonebook, a lock file, a transcript). It was not read or written.
    case notRegularFile(path: String, kind: FileKind)
    /// The file (or input) is larger than the reader accepts.
    case tooLarge(path: String, limit: Int)
    /// The requester may not use the path (its permission bits say no), or it changed
    /// between the check and the open.
    case notPermitted(path: String, reason: String)
    /// A network host name that does not resolve (`getaddrinfo`'s reason); `path` is `host:port`.
    case unresolved(path: String, reason: String)

    /// The `errno` of a failed C call, if this error came from one.
    public var errno: Errno? {
        if case .system(_, _, let errno) = self { return errno }
        return nil
    }

    /// The path this error concerns.
    public var path: String {
        switch self {
        case .system(_, let path, _), .hangUp(let path), .closed(let path), .timedOut(_, let path),
             .inUse(let path), .cancelled(_, let path), .notRegularFile(let path, _), .tooLarge(let path, _),
             .notPermitted(let path, _), .unresolved(let path, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .system(let call, let path, let errno):
            return "\(call) \(path): \(errno) (errno \(errno.rawValue))"
        case .hangUp(let path):
            return "\(path): the device hung up (unplugged or carrier lost)"
        case .closed(let path):
            return "\(path): the port is closed"
        case .timedOut(let operation, let path):
            return "\(operation) \(path): timed out"
        case .inUse(let path):
            return "\(path): the device is in use by another program"
        case .cancelled(let operation, let path):
            return "\(operation) \(path): cancelled"
        case .notRegularFile(let path, let kind):
            return "\(path) is a \(kind), not a regular file; it was not opened"
        case .tooLarge(let path, let limit):
            return "\(path) is larger than \(limit) bytes"
        case .notPermitted(let path, let reason):
            return "\(path): permission denied (\(reason))"
        case .unresolved(let path, let reason):
            return "\(path): the host name does not resolve (\(reason))"
        }
    }
}
