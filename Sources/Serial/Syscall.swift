import SystemIO

/// Serial's side of the errno funnel: ``Syscall/check(_:path:retryOnInterrupt:_:)`` (`EINTR`
/// retried), its failure as ``SerialError/system(operation:path:errno:)`` naming the C call.
@discardableResult
func check<T: FixedWidthInteger & SignedInteger>(_ call: String, _ path: String, _ body: () -> T) throws(SerialError) -> T {
    switch Syscall.result(body) {
    case .success(let value): return value
    case .failure(let errno): throw .system(operation: call, path: path, errno: errno)
    }
}
