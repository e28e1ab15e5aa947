import SystemIO
import SystemPackage

/// An error from the serial layer. Every case keeps the path it concerns and, where a
/// system call failed, its name and `errno`, so that callers can map it to a RAS error
/// without parsing text.
///
/// The OS layer's failures underneath (``SystemError``) arrive here as the case of the same
/// name with the same text (``init(_:)``).
public enum SerialError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed: `operation` names the C call (`tcsetattr`, `ioctl(TIOCMGET)`…).
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
    /// The path names a FIFO, device, folder or socket where a regular file was expected
    /// (a phonebook, a lock file, a transcript). It was not read or written.
    case notRegularFile(path: String, kind: FileKind)
    /// The lock file of the device is not a regular file (someone made a FIFO, a folder or a
    /// link there): the lock counts as held, and the file is left alone.
    case badLockFile(path: String, lockFile: String, kind: FileKind)
    /// The file is larger than the reader accepts.
    case tooLarge(path: String, limit: Int)
    /// The requester may not use the path (its permission bits say no), or it changed
    /// between the check and the open.
    case notPermitted(path: String, reason: String)
    /// The path is not a serial port: not a character device of a serial, USB-serial, ACM
    /// or pseudo-terminal driver. It was not opened.
    case notSerialDevice(path: String, reason: String)
    /// A network host name that does not resolve; `path` is the port's address.
    case unresolved(path: String, reason: String)
    /// A network port's server broke its protocol: it does not speak RFC 2217 (refused
    /// COM-PORT-OPTION or never answered the negotiation), did not confirm a line setting,
    /// or sent what the protocol does not allow. The connection is closed.
    case protocolViolation(path: String, reason: String)

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
             .cancelled(_, let path), .notRegularFile(let path, _), .badLockFile(let path, _, _),
             .tooLarge(let path, _), .notPermitted(let path, _), .notSerialDevice(let path, _),
             .unresolved(let path, _), .protocolViolation(let path, _):
            return path
        }
    }

    public var description: String {
        switch self {
        case .unsupported(let operation, let path):
            return "\(operation) \(path): not supported on this device"
        case .unsupportedSpeed(let speed, let path):
            return "\(path): speed \(speed) is not supported"
        case .locked(let path, let lockFile, let pid):
            return "\(path): in use by process \(pid) (lock file \(lockFile))"
        case .badLockFile(let path, let lockFile, let kind):
            return "\(path): its lock file \(lockFile) is a \(kind), not a lock file; the port counts as locked until it is removed"
        case .notSerialDevice(let path, let reason):
            return "\(path) is not a serial port (\(reason)); it was not opened"
        case .protocolViolation(let path, let reason):
            return "\(path): \(reason)"
        case .system, .hangUp, .closed, .timedOut, .inUse, .cancelled, .notRegularFile, .tooLarge, .notPermitted, .unresolved:
            return systemError?.description ?? "system error"
        }
    }

    /// The OS-layer error of the same name, for the cases the two share (their texts are
    /// SystemIO's); `nil` for the serial layer's own cases.
    public var systemError: SystemError? {
        switch self {
        case .system(let operation, let path, let errno): .system(call: operation, path: path, errno: errno)
        case .hangUp(let path): .hangUp(path: path)
        case .closed(let path): .closed(path: path)
        case .timedOut(let operation, let path): .timedOut(operation: operation, path: path)
        case .inUse(let path): .inUse(path: path)
        case .cancelled(let operation, let path): .cancelled(operation: operation, path: path)
        case .notRegularFile(let path, let kind): .notRegularFile(path: path, kind: kind)
        case .tooLarge(let path, let limit): .tooLarge(path: path, limit: limit)
        case .notPermitted(let path, let reason): .notPermitted(path: path, reason: reason)
        case .unresolved(let path, let reason): .unresolved(path: path, reason: reason)
        case .unsupported, .unsupportedSpeed, .locked, .badLockFile, .notSerialDevice, .protocolViolation: nil
        }
    }
}

extension SerialError {
    /// The serial layer's form of an OS-layer error: the case of the same name, the same text.
    public init(_ error: SystemError) {
        switch error {
        case .system(let call, let path, let errno): self = .system(operation: call, path: path, errno: errno)
        case .hangUp(let path): self = .hangUp(path: path)
        case .closed(let path): self = .closed(path: path)
        case .timedOut(let operation, let path): self = .timedOut(operation: operation, path: path)
        case .inUse(let path): self = .inUse(path: path)
        case .cancelled(let operation, let path): self = .cancelled(operation: operation, path: path)
        case .notRegularFile(let path, let kind): self = .notRegularFile(path: path, kind: kind)
        case .tooLarge(let path, let limit): self = .tooLarge(path: path, limit: limit)
        case .notPermitted(let path, let reason): self = .notPermitted(path: path, reason: reason)
        case .unresolved(let path, let reason): self = .unresolved(path: path, reason: reason)
        }
    }

    /// Evaluates `body`, a call into `SystemIO`, and throws its error as a `SerialError`.
    static func converting<T>(_ body: @autoclosure () throws(SystemError) -> T) throws(SerialError) -> T {
        do { return try body() } catch { throw SerialError(error) }
    }
}
