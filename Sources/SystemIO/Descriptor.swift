import Glibc
import Synchronization

/// An owned file descriptor: the one place where a descriptor of `SystemIO` or `Serial` is
/// used, waited on and closed.
///
/// Every use happens under a lock that ``close(_:)`` also takes, so a descriptor number is
/// never used after it was closed (and perhaps reused by another open). A wait registers
/// with the ``IOReactor`` under the same lock, and closing ends every wait and removes the
/// descriptor from the reactor's epoll set before `close(2)`, so when ``close(_:)`` returns
/// the device really is released and no late event of the old number is delivered.
package final class Descriptor: Sendable {
    /// The path the descriptor was opened from, for errors.
    package let path: String
    private let value: Mutex<Int32>

    /// Takes ownership of `fd`.
    package init(_ fd: Int32, path: String) {
        self.path = path
        value = Mutex(fd)
    }

    deinit { close() }

    /// Whether ``close(_:)`` was called.
    package var isClosed: Bool { value.withLock { $0 < 0 } }

    /// Runs `body` with the open descriptor; `ifClosed(path)` is thrown if it was closed.
    /// (`Serial` passes `SerialError.closed`, so its errors stay of its own type.)
    @discardableResult
    package func withFD<T, E: Error>(ifClosed: (String) -> E, _ body: (Int32) throws(E) -> T) throws(E) -> T {
        try value.withLock { fd throws(E) -> T in
            guard fd >= 0 else { throw ifClosed(path) }
            return try body(fd)
        }
    }

    /// Runs `body` with the open descriptor; ``SystemError/closed(path:)`` if it was closed.
    @discardableResult
    package func withFD<T>(_ body: (Int32) throws(SystemError) -> T) throws(SystemError) -> T {
        try withFD(ifClosed: SystemError.closed(path:), body)
    }

    /// Waits for `events` (see ``IOReactor/wait(events:deadline:register:)``). A wait on a
    /// closed descriptor, or one closed while waiting, ends as cancelled.
    package func wait(events: Int16, deadline: ContinuousClock.Instant?) async -> IOReadiness {
        await IOReactor.shared.wait(events: events, deadline: deadline) { register in
            value.withLock { fd in
                guard fd >= 0 else { return false }
                register(fd)
                return true
            }
        }
    }

    /// Closes the descriptor once; `beforeClose` runs with it first (e.g. to release an
    /// exclusive claim). Later calls do nothing.
    package func close(_ beforeClose: (Int32) -> Void = { _ in }) {
        let fd = value.withLock { fd -> Int32 in
            defer { fd = -1 }
            return fd
        }
        guard fd >= 0 else { return }
        IOReactor.shared.release(fd: fd)
        beforeClose(fd)
        _ = Glibc.close(fd)
    }
}
