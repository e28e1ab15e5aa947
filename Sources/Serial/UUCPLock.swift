import Glibc
import SystemIO
import SystemPackage

/// A UUCP lock file (`LCK..ttyUSB0` holding the owner's PID as ten ASCII columns and a
/// newline), the convention every Linux dialer — pppd, minicom, wvdial, cu — honours.
///
/// ``acquire(device:directory:pid:)`` takes the lock with `O_CREAT | O_EXCL`, reclaims a
/// stale lock whose process is gone (or whose content is garbage), and refuses a live
/// one with `SerialError.locked`, naming the holder's PID. The lock directory is
/// injectable so that tests never need root.
public struct UUCPLock: Sendable, Equatable {
    /// The lock directories in order of preference (`/var/lock` is a link to `/run/lock`
    /// on systemd machines).
    public static let standardDirectories = ["/run/lock", "/var/lock"]

    /// The device the lock is for, as given.
    public let device: String
    /// The lock file's full path.
    public let lockFile: String
    /// The PID written into the lock.
    public let pid: Int32

    /// The first standard lock directory this process can write to, if any.
    public static func defaultDirectory() -> String? {
        standardDirectories.first { access($0, W_OK) == 0 }
    }

    /// The lock file name for a device: `/dev/ttyUSB0` → `LCK..ttyUSB0`,
    /// `/dev/usb/ttyUSB0` → `LCK..usb_ttyUSB0` (as pppd names it). Links such as
    /// `/dev/serial/by-id/…` or a fake modem's link are resolved first, so every name of
    /// one device shares one lock.
    public static func lockName(for device: String) -> String {
        var path = SerialPort.canonicalPath(device)
        if path.hasPrefix("/dev/") { path.removeFirst(5) }
        while path.hasPrefix("/") { path.removeFirst() }
        return "LCK.." + path.replacingSlashes()
    }

    /// Takes the lock for `device`.
    ///
    /// - Parameters:
    ///   - device: the device path.
    ///   - directory: the lock directory; `nil` picks ``defaultDirectory()``.
    ///   - pid: the owner to record (this process by default).
    /// - Throws: `.locked` if a live process holds it (naming the PID; a lock held by
    ///   `pid` itself counts as held), `.system` if the directory is not writable.
    public static func acquire(device: String, directory: String? = nil, pid: Int32 = getpid()) throws(SerialError) -> UUCPLock {
        guard let directory = directory ?? defaultDirectory() else {
            throw .system(operation: "lock (no writable lock directory)", path: device, errno: .permissionDenied)
        }
        let lockFile = directory + "/" + lockName(for: device)
        let content = Array(pidField(pid).utf8)
        for _ in 0..<8 {
            switch Syscall.result({
                open(lockFile, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0o644)
            }) {
            case .success(let fd):
                let written = Syscall.result { content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
                _ = Glibc.close(fd)
                switch written {
                case .success(content.count):
                    return UUCPLock(device: device, lockFile: lockFile, pid: pid)
                case .success:
                    _ = unlink(lockFile)
                    throw .system(operation: "write lock", path: lockFile, errno: .noSpace)
                case .failure(let error):
                    _ = unlink(lockFile)
                    throw .system(operation: "write lock", path: lockFile, errno: error)
                }
            case .failure(.fileExists):
                break  // a lock is there: whose?
            case .failure(let error):
                throw .system(operation: "create lock", path: lockFile, errno: error)
            }
            switch inspect(lockFile) {
            case .vanished:
                continue
            case .live(let holder):
                throw .locked(path: device, lockFile: lockFile, pid: holder)
            case .notALockFile(let kind):
                // A FIFO, folder, link or device someone made in the (world-writable) lock
                // directory: never opened, never removed; the port counts as locked.
                throw .badLockFile(path: device, lockFile: lockFile, kind: kind)
            case .stale:
                // The holder is gone (crash, power loss, SIGKILL): reclaim the lock.
                switch Syscall.result({ unlink(lockFile) }) {
                case .success, .failure(.noSuchFileOrDirectory): break
                case .failure(let error): throw .system(operation: "remove stale lock", path: lockFile, errno: error)
                }
            }
        }
        throw .system(operation: "lock (contended)", path: lockFile, errno: .resourceBusy)
    }

    /// What reclaiming a device's lock found.
    public enum Reclaim: Sendable, Equatable {
        /// No lock file.
        case none
        /// A lock of a live process other than this one: left alone.
        case held(pid: Int32)
        /// A lock file that is not a regular file: left alone (the port counts as locked).
        case notALockFile(FileKind)
        /// A stale lock was removed; `pid` is what it named (0 for garbage).
        case removed(pid: Int32)
    }

    /// Removes `device`'s lock if it is stale: its process is dead, its content garbage, or it
    /// names this very process — which, when a daemon starts, can only be a previous life of
    /// it with the same PID (a container restarted, PIDs reused), since it has locked nothing
    /// yet. A daemon calls this at start for the ports it owns, so a SIGKILL leaves no lock
    /// behind until the port is next used.
    public static func reclaimStale(device: String, directory: String? = nil, ownPID: Int32 = getpid()) -> Reclaim {
        guard let directory = directory ?? defaultDirectory() else { return .none }
        let lockFile = directory + "/" + lockName(for: device)
        switch inspect(lockFile) {
        case .vanished:
            return .none
        case .notALockFile(let kind):
            return .notALockFile(kind)
        case .live(let pid) where pid != ownPID:
            return .held(pid: pid)
        case .live(let pid):
            return unlink(lockFile) == 0 ? .removed(pid: pid) : .held(pid: pid)
        case .stale(let pid):
            switch Syscall.result({ unlink(lockFile) }) {
            case .success, .failure(.noSuchFileOrDirectory): return .removed(pid: pid)
            case .failure: return .held(pid: pid)
            }
        }
    }

    /// The live process holding `device`'s lock in `directory`, if any. Stale locks
    /// count as free (and are left for ``acquire(device:directory:pid:)`` to reclaim); a lock
    /// file that is not a regular file answers 0: held, by no process anyone knows.
    public static func holder(of device: String, directory: String? = nil) -> Int32? {
        guard let directory = directory ?? defaultDirectory() else { return nil }
        switch inspect(directory + "/" + lockName(for: device)) {
        case .live(let pid): return pid
        case .notALockFile: return 0
        case .vanished, .stale: return nil
        }
    }

    /// Removes the lock if it still names this owner. Releasing twice is harmless.
    public func release() {
        if UUCPLock.readPID(lockFile) == pid { _ = unlink(lockFile) }
    }

    /// Records a new owner (as pppd's `relock` does when a daemon takes over a port). The new
    /// content is written to a fresh file created with `O_EXCL | O_NOFOLLOW` (so a link
    /// planted in the lock directory is never followed) and renamed over the lock.
    public func transfer(to newPID: Int32) throws(SerialError) -> UUCPLock {
        let content = Array(UUCPLock.pidField(newPID).utf8)
        for attempt in 0..<8 {
            let temporary = lockFile + ".\(newPID).\(UInt32.random(in: 0...UInt32.max)).tmp"
            let fd: Int32
            switch Syscall.result({
                open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0o644)
            }) {
            case .success(let created): fd = created
            case .failure(.fileExists) where attempt < 7: continue
            case .failure(let error): throw .system(operation: "relock", path: temporary, errno: error)
            }
            let written = Syscall.result { content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } }
            _ = Glibc.close(fd)
            let renamed: Result<Int32, Errno> = switch written {
            case .success(content.count): Syscall.result { rename(temporary, lockFile) }
            case .success: .failure(.noSpace)  // a short write
            case .failure(let error): .failure(error)
            }
            if case .failure(let error) = renamed {
                _ = unlink(temporary)
                throw .system(operation: "relock", path: lockFile, errno: error)
            }
            return UUCPLock(device: device, lockFile: lockFile, pid: newPID)
        }
        throw .system(operation: "relock (contended)", path: lockFile, errno: .fileExists)
    }

    // MARK: Lock file content

    /// `%10d\n`.
    static func pidField(_ pid: Int32) -> String {
        let digits = String(pid)
        return String(repeating: " ", count: max(0, 10 - digits.count)) + digits + "\n"
    }

    private enum Inspection { case vanished, live(Int32), stale(Int32), notALockFile(FileKind) }

    private static func inspect(_ lockFile: String) -> Inspection {
        switch readLockFile(lockFile) {
        case .missing: return .vanished
        case .notRegular(let kind): return .notALockFile(kind)
        case .pid(let pid): return ProcessIdentity.isAlive(pid) ? .live(pid) : .stale(pid)
        }
    }

    /// The PID in a lock file: ASCII (any padding), or the old 4-byte binary form; `nil` if
    /// there is no regular lock file or its content is garbage.
    static func readPID(_ lockFile: String) -> Int32? {
        guard case .pid(let pid) = readLockFile(lockFile), pid > 0 else { return nil }
        return pid
    }

    private enum LockFileContent { case missing, notRegular(FileKind), pid(Int32) }

    /// Reads a lock file without ever blocking or following a link: the lock directory is
    /// world-writable, so anyone may have put a FIFO, a link or a folder there
    /// (see ``SafeFile``). A file that cannot be read counts as garbage (stale).
    private static func readLockFile(_ lockFile: String) -> LockFileContent {
        let fd: Int32
        do throws(SystemError) {
            (fd, _) = try SafeFile.openExistingRegularFile(lockFile)
        } catch .notRegularFile(_, let kind) {
            return .notRegular(kind)
        } catch {
            if error.errno == .noSuchFileOrDirectory { return .missing }
            if error.errno == .tooManySymbolicLinkLevels { return .notRegular(.symbolicLink) }
            return .pid(0)
        }
        defer { _ = Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return .pid(0) }
        let bytes = buffer.prefix(count)
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let pid = Int32(text) { return .pid(pid) }
        if count == 4 {
            return .pid(bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
        }
        return .pid(0)
    }
}

extension String {
    fileprivate func replacingSlashes() -> String {
        String(map { $0 == "/" ? "_" : $0 })
    }

    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
