import CSystemSupport
import Glibc

/// Who is at the other end of a Unix socket, as the kernel vouches for it (`SO_PEERCRED`).
public struct PeerCredentials: Sendable, Equatable, Codable {
    /// Process ID of the peer when it connected.
    public var pid: Int32
    /// User ID of the peer.
    public var uid: UInt32
    /// Group ID of the peer.
    public var gid: UInt32
    /// The peer's supplementary groups when it connected (`SO_PEERGROUPS`); `nil` when the
    /// kernel could not tell (then only ``gid`` counts as the peer's group).
    public var groups: [UInt32]?

    public init(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32]? = nil) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// Whether the peer is in `group`: its primary group or one of its supplementary groups.
    public func isMember(of group: UInt32) -> Bool {
        gid == group || (groups?.contains(group) ?? false)
    }
}

/// A connected Unix stream socket (either end). Reads and writes take deadlines and suspend
/// the calling task; a peer that goes away is ``SystemError/hangUp(path:)``.
public final class UnixSocketConnection: Sendable {
    /// The socket path this connection was made through.
    public let path: String
    /// The peer's credentials, read once when the connection was made.
    public let peer: PeerCredentials
    private let descriptor: Descriptor
    private let turns = WriteTurns()

    init(fd: Int32, path: String) throws(SystemError) {
        self.path = path
        descriptor = Descriptor(fd, path: path)
        var pid: Int32 = 0
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        do throws(SystemError) {
            try Syscall.check("getsockopt(SO_PEERCRED)", path: path) { csupport_peer_credentials(fd, &pid, &uid, &gid) }
        } catch {
            descriptor.close()
            throw error
        }
        peer = PeerCredentials(pid: pid, uid: uid, gid: gid, groups: Self.peerGroups(fd))
    }

    deinit { close() }

    /// The peer's supplementary groups (`SO_PEERGROUPS`), or `nil` if the kernel does not say.
    private static func peerGroups(_ fd: Int32) -> [UInt32]? {
        for capacity in [64, 65_536] {
            var groups = [UInt32](repeating: 0, count: capacity)
            let count = Syscall.result { groups.withUnsafeMutableBufferPointer { csupport_peer_groups(fd, $0.baseAddress, Int32(capacity)) } }
            switch count {
            case .success(let count): return Array(groups.prefix(Int(count)))
            case .failure(.outOfRange): continue
            case .failure: return nil
            }
        }
        return nil
    }

    /// Connects to a listening socket, retrying while its backlog is full until `deadline`.
    /// - Throws: `.system` with `ENOENT` (no socket file) or `ECONNREFUSED` (nobody listens).
    public static func connect(path: String, deadline: ContinuousClock.Instant = .now + .seconds(5)) async throws(SystemError) -> UnixSocketConnection {
        while true {
            let fd = try Syscall.check("socket", path: path) {
                socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            }
            switch Syscall.result({ csupport_unix_connect(fd, path) }) {
            case .success:
                return try UnixSocketConnection(fd: fd, path: path)
            case .failure(let error):
                _ = Glibc.close(fd)
                // A full backlog (`EAGAIN`): try again until the deadline.
                guard error == .resourceTemporarilyUnavailable, ContinuousClock.now < deadline else {
                    throw .system(call: "connect", path: path, errno: error)
                }
            }
            do { try await Task.sleep(for: .milliseconds(5)) } catch { throw .cancelled(operation: "connect", path: path) }
        }
    }

    /// Two connected ends of an anonymous stream (`socketpair`), both non-blocking: one
    /// task writes into the first and another reads from the second, waiting with deadlines
    /// on the reactor; closing one end is a hang-up for the other. `label` names both in errors.
    public static func pair(label: String) throws(SystemError) -> (UnixSocketConnection, UnixSocketConnection) {
        var fds: [Int32] = [-1, -1]
        try Syscall.check("socketpair", path: label) {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &fds)
        }
        let first: UnixSocketConnection
        do {
            first = try UnixSocketConnection(fd: fds[0], path: label)
        } catch {
            _ = Glibc.close(fds[1])
            throw error
        }
        return (first, try UnixSocketConnection(fd: fds[1], path: label))
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { descriptor.isClosed }

    /// Closes the connection. Twice is harmless.
    public func close() { descriptor.close() }

    /// Reads and discards whatever is buffered now, without waiting.
    /// - Returns: how many bytes were dropped.
    @discardableResult
    public func discardPending() throws(SystemError) -> Int {
        try descriptor.withFD { fd throws(SystemError) -> Int in
            var dropped = 0
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                switch Syscall.result({ buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) } }) {
                case .success(0): return dropped
                case .success(let count): dropped += count
                case .failure(.resourceTemporarilyUnavailable): return dropped
                case .failure(.connectionReset): throw .hangUp(path: path)
                case .failure(let error): throw .system(call: "recv", path: path, errno: error)
                }
            }
        }
    }

    /// Sends what the socket takes now, without waiting (`MSG_DONTWAIT | MSG_NOSIGNAL`):
    /// for a last word to a peer about to be closed, which must not hold up the sender.
    /// - Returns: how many bytes were taken (0 when the socket's buffer is full).
    /// - Throws: `.hangUp` if the peer is gone.
    @discardableResult
    public func sendNow(_ bytes: [UInt8]) throws(SystemError) -> Int {
        try descriptor.withFD { fd throws(SystemError) -> Int in
            switch Syscall.result({ bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)) } }) {
            case .success(let count): return count
            case .failure(.resourceTemporarilyUnavailable): return 0
            case .failure(.brokenPipe), .failure(.connectionReset): throw .hangUp(path: path)
            case .failure(let error): throw .system(call: "send", path: path, errno: error)
            }
        }
    }

    /// Reads what is available, waiting until something arrives or `deadline` (`nil`: none).
    /// - Returns: the bytes, or empty when the deadline passed first.
    /// - Throws: `.hangUp` when the peer closed its end.
    public func read(maxCount: Int = 65536, deadline: ContinuousClock.Instant?) async throws(SystemError) -> [UInt8] {
        while true {
            let bytes = try descriptor.withFD { fd throws(SystemError) -> [UInt8]? in
                var buffer = [UInt8](repeating: 0, count: max(1, maxCount))
                switch Syscall.result({ buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) } }) {
                case .success(0), .failure(.connectionReset): throw .hangUp(path: path)
                case .success(let count): return Array(buffer.prefix(count))
                case .failure(.resourceTemporarilyUnavailable): return nil
                case .failure(let error): throw .system(call: "recv", path: path, errno: error)
                }
            }
            if let bytes { return bytes }
            let readiness = await descriptor.wait(events: Int16(POLLIN), deadline: deadline)
            if readiness.cancelled { throw isClosed ? .closed(path: path) : .cancelled(operation: "read", path: path) }
            if readiness.revents == 0 { return [] }
        }
    }

    /// Writes every byte, waiting for room until `deadline`. Concurrent writes take turns,
    /// first come first served, so what one call writes is never interleaved with another's
    /// (the wait for the turn counts against the deadline; a write whose deadline passed
    /// before its turn writes nothing).
    /// - Throws: `.hangUp` if the peer is gone, `.timedOut`.
    public func write(_ bytes: some Sequence<UInt8>, deadline: ContinuousClock.Instant? = nil) async throws(SystemError) {
        // One writer at a time: a frame is never interleaved with another task's.
        await turns.take()
        defer { turns.pass() }
        if let deadline, deadline <= .now { throw .timedOut(operation: "write", path: path) }
        try await descriptor.sendAll(Array(bytes)[...], deadline: deadline)
    }
}

/// A listening Unix stream socket bound to a path.
///
/// Binding replaces a stale socket file of this user left by a process that died (nobody
/// accepts on it), but never a live one, another user's, or anything that is not a socket; a failed bind leaves no file behind. Two processes racing to bind the same path must serialize
/// with a ``FileLock`` first; ``close()`` removes the socket file.
public final class UnixSocketListener: Sendable {
    /// The socket path.
    public let path: String
    private let descriptor: Descriptor
    /// Whether ``close()`` removes the socket file (not for an adopted socket: its owner's).
    private let ownsPath: Bool

    init(descriptor: Descriptor, path: String, ownsPath: Bool) {
        self.descriptor = descriptor
        self.path = path
        self.ownsPath = ownsPath
    }

    /// Binds and listens.
    /// - Parameters:
    ///   - path: the socket file to create.
    ///   - permissions: its mode, e.g. `0o600` (one user) or `0o660` (a group).
    ///   - group: a group name to own the socket file (e.g. `dialout`), or `nil`.
    /// - Throws: `.inUse` if a live process listens there already; `.notPermitted` if
    ///   something other than a stale socket of this user is there (a regular file, a link,
    ///   a folder, another user's socket: never removed); `.system` otherwise.
    public init(path: String, permissions: UInt32 = 0o600, group: String? = nil) throws(SystemError) {
        self.path = path
        ownsPath = true
        // Clients connect by this path, so it must fit `sun_path` (108 bytes with its NUL).
        guard !path.isEmpty, path.utf8.count < 108 else {
            throw .system(call: "bind", path: path, errno: .fileNameTooLong)
        }
        let fd = try Syscall.check("socket", path: path) {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        descriptor = Descriptor(fd, path: path)
        // The socket is bound in a private 0700 staging folder beside `path`, given its
        // group and mode there, and only then renamed into place: nobody can connect
        // before the mode is right, and no process-wide umask is touched.
        var template = Array((UnixSocketListener.folder(of: path) + "/.rasXXXXXX").utf8CString)
        let made = Syscall.pointerResult { template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } } }
        if case .failure(let error) = made {
            descriptor.close()
            throw .system(call: "mkdtemp", path: path, errno: error)
        }
        let staging = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let staged = staging + "/s"
        defer {
            _ = unlink(staged)
            _ = rmdir(staging)
        }
        do throws(SystemError) {
            try Syscall.check("bind", path: staged) { csupport_unix_bind(fd, staged) }
            if let group {
                guard let entry = getgrnam(group) else {
                    throw SystemError.system(call: "getgrnam(\(group))", path: path, errno: .noSuchFileOrDirectory)
                }
                try Syscall.check("chown", path: staged) { chown(staged, uid_t.max, entry.pointee.gr_gid) }
            }
            try Syscall.check("chmod", path: staged) { chmod(staged, mode_t(permissions)) }
            try Syscall.check("listen", path: path) { listen(fd, 128) }
            try UnixSocketListener.claim(path, from: staged)
        } catch {
            descriptor.close()
            throw error
        }
    }

    deinit { close() }

    /// Moves the socket bound at `staged` to `path` without ever replacing what is not a
    /// stale socket of this user: the rename refuses to replace anything
    /// (`RENAME_NOREPLACE`), and what is found at `path` is looked at with `lstat` — a
    /// socket of this effective user that nobody accepts on is removed and the rename tried
    /// again; anything else (a regular file, a link, a folder, a FIFO, another user's
    /// socket) is left alone and refused. In a folder that passes
    /// ``checkPlacement(of:)`` nobody else can put a file there between the look and the
    /// removal.
    /// - Throws: `.inUse` when a live process listens there; `.notPermitted` naming what is
    ///   there when it is not this user's stale socket.
    private static func claim(_ path: String, from staged: String) throws(SystemError) {
        for _ in 0..<4 {
            switch Syscall.result({ csupport_rename_noreplace(staged, path) }) {
            case .success: return
            case .failure(.fileExists): break
            case .failure(let error): throw .system(call: "renameat2", path: path, errno: error)
            }
            let existing: FileStatus
            do {
                existing = try FileStatus.of(path, followLinks: false)
            } catch .system(_, _, .noSuchFileOrDirectory) {
                continue
            }
            guard existing.kind == .socket else {
                throw .notPermitted(path: path, reason: "a \(existing.kind) is there (\(existing.modeDescription)), not a socket; it was left alone")
            }
            guard existing.owner == geteuid() else {
                throw .notPermitted(path: path, reason: "a socket of uid \(existing.owner) is there; only a stale socket of uid \(geteuid()) is replaced")
            }
            if isListening(path: path) { throw .inUse(path: path) }
            switch Syscall.result({ unlink(path) }) {
            case .success, .failure(.noSuchFileOrDirectory): continue
            case .failure(let error): throw .system(call: "unlink", path: path, errno: error)
            }
        }
        throw .inUse(path: path)
    }

    /// Checks that nobody but this process's effective user and root can replace a socket
    /// at `path`: its folder and every folder above it (links resolved) must be a folder
    /// owned by root or by this user, and none may be writable by everyone without the
    /// sticky bit (`/tmp`'s 1777 passes: others cannot remove or rename what is ours there).
    /// Group-writable folders pass: the group is the administrator's choice.
    /// - Throws: `.notPermitted` naming the folder, its mode and owner, and the reason;
    ///   `.system` when a folder cannot be examined (a missing folder is `ENOENT`).
    public static func checkPlacement(of path: String) throws(SystemError) {
        var folder = try SafeFile.resolve(Self.folder(of: path))
        let me = geteuid()
        while true {
            let status = try FileStatus.of(folder, followLinks: false)
            guard status.kind == .directory else {
                throw .notPermitted(path: folder, reason: "the socket's folder is a \(status.kind), not a folder")
            }
            guard status.owner == 0 || status.owner == me else {
                throw .notPermitted(path: folder, reason: "folder owned by uid \(status.owner) (\(status.modeDescription)), neither root nor uid \(me): its owner could replace the socket")
            }
            guard status.permissions & 0o002 == 0 || status.permissions & 0o1000 != 0 else {
                throw .notPermitted(path: folder, reason: "folder writable by everyone without the sticky bit (\(status.modeDescription)): anyone could replace the socket")
            }
            if folder == "/" { return }
            folder = Self.folder(of: folder)
        }
    }

    /// The folder `path` is in: `/` for `/name`, `.` for a bare name.
    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Whether a process accepts connections on `path` right now (a socket file nobody
    /// listens on is stale).
    public static func isListening(path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { _ = Glibc.close(fd) }
        switch Syscall.result({ csupport_unix_connect(fd, path) }) {
        case .success, .failure(.resourceTemporarilyUnavailable): return true
        case .failure: return false
        }
    }

    /// Waits for the next connection until `deadline` (`nil`: no deadline).
    /// - Returns: the connection, or `nil` when the deadline passed.
    /// - Throws: `.closed` once the listener is closed, `.cancelled`.
    public func accept(deadline: ContinuousClock.Instant? = nil) async throws(SystemError) -> UnixSocketConnection? {
        while let fd = try await descriptor.acceptNext(deadline: deadline) {
            // A peer that vanished before we could read its credentials is skipped.
            if let connection = try? UnixSocketConnection(fd: fd, path: path) { return connection }
        }
        return nil
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { descriptor.isClosed }

    /// Stops listening and removes the socket file (one it bound itself). Twice is harmless.
    public func close() {
        descriptor.close { [ownsPath, path] _ in if ownsPath { _ = unlink(path) } }
    }
}
