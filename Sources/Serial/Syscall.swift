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

/// Milliseconds from now until `deadline` for `poll`, rounded up; -1 for no deadline.
func pollTimeout(until deadline: ContinuousClock.Instant?) -> Int32 {
    guard let deadline else { return -1 }
    let remaining = ContinuousClock.now.duration(to: deadline)
    if remaining <= .zero { return 0 }
    let (seconds, attoseconds) = remaining.components
    let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    return Int32(clamping: millis)
}

/// Whether process `pid` is alive: it exists (`kill(pid, 0)` succeeds, or fails with
/// `EPERM`: someone else's process) and is not a zombie — a holder that died but was not
/// yet reaped (slow in containers whose PID 1 reaps late) owns nothing any more.
func processIsAlive(_ pid: Int32) -> Bool {
    guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
    let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return true }
    defer { _ = close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard count > 0, let paren = buffer.prefix(count).lastIndex(of: UInt8(ascii: ")")), paren + 2 < count else { return true }
    return buffer[paren + 2] != UInt8(ascii: "Z")
}
