import ArgumentParser
import Foundation
import Logging
import RAS
import RASService
import SystemIO

/// Claims the daemon's socket path, race-free: the parent folder is made if missing, the
/// `flock` on `<socket>.lock` is taken before anything is bound, and only then is a stale
/// socket file (from a daemon that died) replaced. A second daemon finds the lock held or
/// the socket answering, and leaves with "already running (pid N)".
struct DaemonSocket {
    /// The socket path (absolute).
    let path: String
    /// True for the system daemon (root on ``SocketLocation/systemPath``): its folder is 0755.
    let isSystem: Bool
    /// The socket's mode.
    let mode: UInt32
    /// The group to own the socket, if any; a group that does not exist falls back to 0600.
    let group: String?
    let logger: Logger

    /// How long a daemon that finds the lock taken waits for its holder to answer.
    static let holderAnswerTimeout = Duration.seconds(10)

    /// The exit status of a daemon that refuses an unsafe socket location (see
    /// ``checkPlacement()``): distinct from 1, so that a service manager or a script can tell
    /// "fix the folder's owner or mode" from "already running".
    static let unsafeLocationStatus: Int32 = 3

    /// Takes the lock and binds the socket. Exits (status 1) when another daemon has it,
    /// (status 3) when the socket's folder or what is at its path is not safe to use.
    func open() async throws -> (FileLock, UnixSocketListener) {
        try makeParentFolder()
        try checkPlacement()
        let lock = try await takeLock()
        do {
            return (lock, try await bind())
        } catch {
            lock.release()
            throw error
        }
    }

    /// Socket activation: adopts the listening socket systemd passed as `fd` (bound, with
    /// its mode and group, by the socket unit) and takes the lock beside it, so that a
    /// daemon started by hand on the same path still finds it running. Exits (status 1) when
    /// `fd` is not a listening Unix socket or another daemon holds the lock.
    static func adopt(_ fd: Int32, logger: Logger) async throws -> (FileLock, UnixSocketListener) {
        let listener: UnixSocketListener
        do {
            listener = try UnixSocketListener(adopting: fd)
        } catch {
            complain("systemd passed descriptor \(fd), which is not a listening Unix socket: \(error)")
            throw ExitCode(1)
        }
        let socket = DaemonSocket(path: listener.path, isSystem: false, mode: 0, group: nil, logger: logger)
        do {
            return (try await socket.takeLock(), listener)
        } catch {
            listener.close()
            throw error
        }
    }

    /// Takes `<socket>.lock`, or exits (status 1) naming the daemon that holds it.
    private func takeLock() async throws -> FileLock {
        let lockPath = path + ".lock"
        let lock: FileLock
        do {
            lock = try FileLock(path: lockPath)
        } catch .inUse {
            // Another daemon is starting or running: wait for it to answer, then leave.
            if let server = await Self.hello(path, within: Self.holderAnswerTimeout) {
                throw alreadyRunning(server)
            }
            complain("another rasmand holds \(lockPath) but does not answer on \(path)")
            throw ExitCode(1)
        } catch {
            complain("cannot lock \(lockPath): \(error)")
            throw ExitCode(1)
        }
        return lock
    }

    /// Refuses (status 3) a socket folder another user could write to: one writable by all
    /// without the sticky bit, or owned by someone other than root and us — it, or any folder
    /// above it. Such a user could replace the socket with their own and see every client's
    /// requests (phonebook paths, dials).
    private func checkPlacement() throws {
        do throws(SystemError) {
            try UnixSocketListener.checkPlacement(of: path)
        } catch .notPermitted(let folder, let reason) {
            complain("refusing to serve \(path): \(folder): \(reason)")
            throw ExitCode(Self.unsafeLocationStatus)
        } catch {
            complain("cannot examine the folder of \(path): \(error)")
            throw ExitCode(1)
        }
    }

    private func bind() async throws -> UnixSocketListener {
        let stale = (try? FileStatus.of(path, followLinks: false)) != nil
        do {
            let listener = try listen(mode: mode, group: group)
            if stale { logger.notice("replaced a stale socket file", metadata: ["socket": "\(path)"]) }
            return listener
        } catch .inUse {
            // A daemon that does not take the lock (an old build?) is serving the path.
            if let server = await Self.hello(path, within: .seconds(2)) { throw alreadyRunning(server) }
            complain("\(path) is in use by a process that does not answer the rasmand protocol")
            throw ExitCode(1)
        } catch .notPermitted(_, let reason) {
            // Never someone else's file: not removed, not replaced.
            complain("refusing to serve \(path): \(reason)")
            throw ExitCode(Self.unsafeLocationStatus)
        } catch {
            complain("cannot listen on \(path): \(error)")
            throw ExitCode(1)
        }
    }

    private func listen(mode: UInt32, group: String?) throws(SystemError) -> UnixSocketListener {
        do {
            return try UnixSocketListener(path: path, permissions: mode, group: group)
        } catch .system(let call, _, _) where group != nil && call.hasPrefix("getgrnam") {
            logger.warning("group does not exist; the socket is for its owner only (0600)", metadata: [
                "group": "\(group ?? "")", "socket": "\(path)",
            ])
            return try UnixSocketListener(path: path, permissions: 0o600, group: nil)
        }
    }

    private func makeParentFolder() throws {
        let folder = (path as NSString).deletingLastPathComponent
        guard !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) else { return }
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true,
                attributes: [.posixPermissions: isSystem ? 0o755 : 0o700])
        } catch {
            complain("cannot create \(folder): \(error.localizedDescription)")
            throw ExitCode(1)
        }
    }

    private func alreadyRunning(_ server: ServerInfo) -> ExitCode {
        complain("already running (pid \(server.pid)) on \(path)")
        return ExitCode(1)
    }

    /// Asks the daemon at `path` who it is, retrying until `timeout`; `nil` if nobody answers.
    static func hello(_ path: String, within timeout: Duration) async -> ServerInfo? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let client = try? await RASClient.connect(socketPath: path, timeout: .seconds(1)) {
                let info = try? await client.hello()
                await client.close()
                if let info { return info }
            }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
