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

/// Runs a system call that returns -1 on failure and turns a failure into `SerialError.system`.
@inline(__always)
@discardableResult
func check<T: FixedWidthInteger>(_ operation: String, _ path: String, _ call: () -> T) throws(SerialError) -> T {
    let result = retryingEINTR(call)
    if result == -1 { throw .system(operation: operation, path: path, errno: currentErrno()) }
    return result
}
