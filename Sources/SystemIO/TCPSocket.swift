import CSystemSupport
import Glibc

/// A connected TCP stream (IPv4 or IPv6), non-blocking, with `TCP_NODELAY` set: a modem
/// port on a terminal server is a stream of small writes (AT commands, Telnet
/// negotiation) whose latency matters more than packing.
///
/// Waits go through the process's one ``IOReactor``, like every serial port and Unix
/// socket: reading, writing and connecting suspend the calling task, never a thread.
public final class TCPConnection: Sendable {
    /// `host:port` as given to ``connect(host:port:deadline:)``; for an accepted connection
    /// the peer's numeric address (`127.0.0.1:40312`, `[::1]:40312`).
    public let address: String
    private let descriptor: Descriptor
    private let turns = WriteTurns()

    init(fd: Int32, address: String) {
        self.address = address
        descriptor = Descriptor(fd, path: address)
    }

    deinit { close() }

    /// Connects to `host:port`, waiting until `deadline`.
    /// - Throws: ``SystemError/unresolved(path:reason:)`` for a name that does not resolve;
    ///   `.system(call: "connect", …)` with `ECONNREFUSED`, `ENETUNREACH`, `EHOSTUNREACH`…;
    ///   `.timedOut` when the deadline passed first; `.cancelled`.
    public static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) async throws(SystemError) -> TCPConnection {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var resolveError: Int32 = 0
        let fd = csupport_tcp_connect(host, String(port), &resolveError)
        if fd == -2 {
            throw .unresolved(path: address, reason: String(cString: csupport_resolve_error_text(resolveError)))
        }
        if fd < 0 { throw .system(call: "connect", path: address, errno: .init(rawValue: errno)) }
        let connection = TCPConnection(fd: fd, address: address)
        let readiness = await connection.descriptor.wait(events: Int16(POLLOUT), deadline: deadline)
        if readiness.cancelled {
            connection.close()
            throw .cancelled(operation: "connect", path: address)
        }
        if readiness.revents == 0 {
            connection.close()
            throw .timedOut(operation: "connect", path: address)
        }
        let pending = try connection.descriptor.withFD { fd in csupport_socket_error(fd) }
        if pending != 0 {
            connection.close()
            throw .system(call: "connect", path: address, errno: .init(rawValue: pending < 0 ? errno : pending))
        }
        return connection
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { descriptor.isClosed }

    /// Closes the connection (the peer reads end of file). Twice is harmless.
    public func close() { descriptor.close() }

    /// Reads what the kernel holds into `buffer` without waiting.
    /// - Returns: the count; `nil` when nothing is there.
    /// - Throws: `.hangUp` when the peer closed or reset the connection.
    public func readNow(into buffer: inout [UInt8]) throws(SystemError) -> Int? {
        try descriptor.withFD { fd throws(SystemError) -> Int? in
            switch Syscall.result({ buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }) {
            case .success(0), .failure(.connectionReset), .failure(.brokenPipe): throw .hangUp(path: address)
            case .success(let count): return count
            case .failure(.resourceTemporarilyUnavailable): return nil
            case .failure(.timedOut), .failure(.noRouteToHost), .failure(.networkUnreachable): throw .hangUp(path: address)
            case .failure(let error): throw .system(call: "recv", path: address, errno: error)
            }
        }
    }

    /// Waits until something can be read (or the peer is gone), or `deadline`.
    /// - Returns: `false` when the deadline passed first.
    /// - Throws: `.closed` if the connection is (or gets) closed, `.cancelled`.
    public func waitReadable(deadline: ContinuousClock.Instant?) async throws(SystemError) -> Bool {
        let readiness = await descriptor.wait(events: Int16(POLLIN), deadline: deadline)
        if readiness.cancelled { throw isClosed ? .closed(path: address) : .cancelled(operation: "read", path: address) }
        return readiness.revents != 0
    }

    /// Writes every byte, waiting for room until `deadline` (`nil`: none). Concurrent writes
    /// take turns, so one call's bytes (a Telnet command, say) are never cut into by another's.
    /// - Throws: `.hangUp` if the peer is gone, `.timedOut`, `.closed`, `.cancelled`.
    public func write(_ bytes: [UInt8], deadline: ContinuousClock.Instant? = nil) async throws(SystemError) {
        try await write(deadline: deadline) { bytes }
    }

    /// Writes what `produce` returns, calling it only once this call has its turn: bytes
    /// queued by others up to that moment (a port's control requests) go out in order with it.
    public func write(deadline: ContinuousClock.Instant? = nil, _ produce: () -> [UInt8]) async throws(SystemError) {
        await turns.take()
        defer { turns.pass() }
        try await descriptor.sendAll(produce()[...], deadline: deadline)
    }
}

/// A listening TCP socket.
public final class TCPListener: Sendable {
    /// The port it listens on (the one the kernel chose, when asked for port 0).
    public let port: Int
    /// `host:port`.
    public let address: String
    private let descriptor: Descriptor

    /// Binds `host:port` (port 0: any free port) and listens.
    /// - Throws: `.system(call: "listen", …)` with `EADDRINUSE`, `EACCES`…; `.unresolved`.
    public init(host: String, port: Int, backlog: Int32 = 16) throws(SystemError) {
        let given = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        var resolveError: Int32 = 0
        let fd = csupport_tcp_listen(host, String(port), backlog, &resolveError)
        if fd == -2 { throw .unresolved(path: given, reason: String(cString: csupport_resolve_error_text(resolveError))) }
        if fd < 0 { throw .system(call: "listen", path: given, errno: .init(rawValue: errno)) }
        descriptor = Descriptor(fd, path: given)
        let bound = csupport_local_port(fd)
        self.port = bound > 0 ? Int(bound) : port
        address = host.contains(":") ? "[\(host)]:\(self.port)" : "\(host):\(self.port)"
    }

    deinit { close() }

    /// Waits for the next connection until `deadline` (`nil`: none).
    /// - Returns: the connection, or `nil` when the deadline passed.
    /// - Throws: `.closed` once the listener is closed, `.cancelled`.
    public func accept(deadline: ContinuousClock.Instant? = nil) async throws(SystemError) -> TCPConnection? {
        guard let fd = try await descriptor.acceptNext(deadline: deadline) else { return nil }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var text = [CChar](repeating: 0, count: 1100)
        let peer = csupport_peer_address(fd, &text, UInt(text.count)) == 0
            ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : address
        return TCPConnection(fd: fd, address: peer)
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { descriptor.isClosed }

    /// Stops listening. Twice is harmless.
    public func close() { descriptor.close() }
}
