import Glibc
import SystemPackage

/// The errno funnel: the one place in the stack that reads `errno`.
///
/// Every C call of `SystemIO` and `Serial` that reports a failure as -1 (or a null pointer)
/// and `errno` runs through here, so a failure always comes out typed, with the `errno` it
/// set and — when it is thrown — the name of the C call and the path it concerned:
///
/// - ``result(retryOnInterrupt:_:)`` hands the `Errno` back to a caller that classifies it
///   (`EAGAIN`: wait for readiness; `EIO`: the device hung up; `ENOENT`: gone…);
/// - ``check(_:path:retryOnInterrupt:_:)`` throws any failure as
///   ``SystemError/system(call:path:errno:)``.
///
/// `EINTR` is retried unless the caller says otherwise, so a signal never surfaces as a
/// failure of a call that can simply be made again.
package enum Syscall {
    /// Runs `call`, a C function that returns -1 and sets `errno` on failure.
    /// - Parameter retryOnInterrupt: run it again while it fails with `EINTR` (the default).
    /// - Returns: its result, or the `errno` it failed with.
    @inline(__always)
    package static func result<T: FixedWidthInteger & SignedInteger>(
        retryOnInterrupt: Bool = true, _ call: () -> T
    ) -> Result<T, Errno> {
        while true {
            let value = call()
            if value != -1 { return .success(value) }
            let error = Errno(rawValue: errno)
            if retryOnInterrupt && error == .interrupted { continue }
            return .failure(error)
        }
    }

    /// Runs `call`, a C function that returns a null pointer and sets `errno` on failure
    /// (`realpath`, `mkdtemp`).
    /// - Returns: the pointer, or the `errno` it failed with.
    @inline(__always)
    package static func pointerResult<T>(_ call: () -> T?) -> Result<T, Errno> {
        if let value = call() { return .success(value) }
        return .failure(Errno(rawValue: errno))
    }

    /// Runs `call` like ``result(retryOnInterrupt:_:)``, and throws a failure as
    /// ``SystemError/system(call:path:errno:)`` naming `name` (the C call) and `path`.
    @inline(__always)
    @discardableResult
    package static func check<T: FixedWidthInteger & SignedInteger>(
        _ name: String, path: String, retryOnInterrupt: Bool = true, _ call: () -> T
    ) throws(SystemError) -> T {
        try result(retryOnInterrupt: retryOnInterrupt, call).get(name, path: path)
    }
}

extension Result where Failure == Errno {
    /// The value, or ``SystemError/system(call:path:errno:)`` naming the C call `name` and `path`.
    @inline(__always)
    package func get(_ name: String, path: String) throws(SystemError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let errno): throw .system(call: name, path: path, errno: errno)
        }
    }
}

/// Milliseconds from now until `deadline` for `poll`/`epoll_wait`, rounded up; -1 for no deadline.
func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let remaining = ContinuousClock.now.duration(to: deadline)
    if remaining <= .zero { return 0 }
    let (seconds, attoseconds) = remaining.components
    let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: millis)
}
