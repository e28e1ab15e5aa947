import CSystemSupport
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

    /// Sends every byte of `bytes` on this socket (`MSG_NOSIGNAL`), waiting for room on the
    /// reactor until `deadline` (`nil`: none) — the one send loop of every stream socket.
    /// - Throws: `.hangUp` if the peer is gone, `.timedOut`, `.closed`, `.cancelled`.
    package func sendAll(_ bytes: ArraySlice<UInt8>, deadline: ContinuousClock.Instant?) async throws(SystemError) {
        var pending = bytes
        while !pending.isEmpty {
            let written = try withFD { fd throws(SystemError) -> Int in
                switch Syscall.result({ pending.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }) {
                case .success(let count): return count
                case .failure(.resourceTemporarilyUnavailable): return 0
                case .failure(.brokenPipe), .failure(.connectionReset): throw .hangUp(path: path)
                case .failure(let error): throw .system(call: "send", path: path, errno: error)
                }
            }
            pending = pending.dropFirst(written)
            if pending.isEmpty { return }
            if let deadline, deadline <= .now { throw .timedOut(operation: "write", path: path) }
            let readiness = await wait(events: Int16(POLLOUT), deadline: deadline)
            if readiness.cancelled { throw isClosed ? .closed(path: path) : .cancelled(operation: "write", path: path) }
        }
    }

    /// Accepts the next connection on this listening socket (non-blocking, close-on-exec),
    /// waiting until `deadline` (`nil`: none) — the one accept loop of every listener.
    /// - Returns: the new descriptor, or `nil` when the deadline passed.
    /// - Throws: `.closed` once the listener is closed, `.cancelled`.
    package func acceptNext(deadline: ContinuousClock.Instant?) async throws(SystemError) -> Int32? {
        while true {
            let fd = try withFD { fd throws(SystemError) -> Int32? in
                switch Syscall.result({ csupport_accept(fd) }) {
                case .success(let client): return client
                case .failure(.resourceTemporarilyUnavailable), .failure(.connectionAbort): return nil
                case .failure(let error): throw .system(call: "accept", path: path, errno: error)
                }
            }
            if let fd { return fd }
            let readiness = await wait(events: Int16(POLLIN), deadline: deadline)
            if readiness.cancelled { throw isClosed ? .closed(path: path) : .cancelled(operation: "accept", path: path) }
            if readiness.revents == 0 { return nil }
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
