import Glibc
import SystemPackage

/// The calling thread's current `errno` as a typed value.
@inline(__always)
func currentErrno() -> Errno { Errno(rawValue: errno) }

/// Runs a system call until it stops failing with `EINTR`; returns its result.
@inline(__always)
func retryingEINTR<T: FixedWidthInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result == -1 && errno == EINTR { continue }
        return result
    }
}

/// Runs a system call that returns -1 on failure and turns a failure into `SystemError.system`.
@inline(__always)
@discardableResult
func check<T: FixedWidthInteger>(_ operation: String, _ path: String, _ call: () -> T) throws(SystemError) -> T {
    let result = retryingEINTR(call)
    if result == -1 { throw .system(call: operation, path: path, errno: currentErrno()) }
    return result
}

/// Milliseconds from now until `deadline` for `poll`, rounded up; -1 for no deadline.
func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let remaining = ContinuousClock.now.duration(to: deadline)
    if remaining <= .zero { return 0 }
    let (seconds, attoseconds) = remaining.components
    let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: millis)
}
