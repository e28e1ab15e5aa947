import Glibc
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
            let fd = retryingEINTR { open(lockFile, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
            if fd >= 0 {
                let written = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                let writeError = currentErrno()
                _ = Glibc.close(fd)
                if written != content.count {
                    _ = unlink(lockFile)
                    throw .system(operation: "write lock", path: lockFile, errno: written < 0 ? writeError : .noSpace)
                }
                return UUCPLock(device: device, lockFile: lockFile, pid: pid)
            }
            let error = currentErrno()
            guard error == .fileExists else {
                throw .system(operation: "create lock", path: lockFile, errno: error)
            }
            switch inspect(lockFile) {
            case .vanished:
                continue
            case .live(let holder):
                throw .locked(path: device, lockFile: lockFile, pid: holder)
            case .stale:
                // The holder is gone (crash, power loss, SIGKILL): reclaim the lock.
                if unlink(lockFile) != 0 && errno != ENOENT {
                    throw .system(operation: "remove stale lock", path: lockFile, errno: currentErrno())
                }
            }
        }
        throw .system(operation: "lock (contended)", path: lockFile, errno: .resourceBusy)
    }

    /// The live process holding `device`'s lock in `directory`, if any. Stale locks
    /// count as free (and are left for ``acquire(device:directory:pid:)`` to reclaim).
    public static func holder(of device: String, directory: String? = nil) -> Int32? {
        guard let directory = directory ?? defaultDirectory() else { return nil }
        if case .live(let pid) = inspect(directory + "/" + lockName(for: device)) { return pid }
        return nil
    }

    /// Removes the lock if it still names this owner. Releasing twice is harmless.
    public func release() {
        if UUCPLock.readPID(lockFile) == pid { _ = unlink(lockFile) }
    }

    /// Records a new owner (as pppd's `relock` does when a daemon takes over a port).
    public func transfer(to newPID: Int32) throws(SerialError) -> UUCPLock {
        let temporary = lockFile + ".\(newPID).tmp"
        let content = Array(UUCPLock.pidField(newPID).utf8)
        let fd = retryingEINTR { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw .system(operation: "relock", path: temporary, errno: currentErrno()) }
        let written = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        _ = Glibc.close(fd)
        guard written == content.count, rename(temporary, lockFile) == 0 else {
            let error = currentErrno()
            _ = unlink(temporary)
            throw .system(operation: "relock", path: lockFile, errno: error)
        }
        return UUCPLock(device: device, lockFile: lockFile, pid: newPID)
    }

    // MARK: Lock file content

    /// `%10d\n`.
    static func pidField(_ pid: Int32) -> String {
        let digits = String(pid)
        return String(repeating: " ", count: max(0, 10 - digits.count)) + digits + "\n"
    }

    private enum Inspection { case vanished, live(Int32), stale }

    private static func inspect(_ lockFile: String) -> Inspection {
        guard let pid = readPIDOrGarbage(lockFile) else { return .vanished }
        return processIsAlive(pid) ? .live(pid) : .stale
    }

    static func readPID(_ lockFile: String) -> Int32? {
        guard let pid = readPIDOrGarbage(lockFile), pid > 0 else { return nil }
        return pid
    }

    /// The PID in a lock file: ASCII (any padding), or the old 4-byte binary form.
    /// `nil` if the file does not exist; 0 if its content is garbage.
    private static func readPIDOrGarbage(_ lockFile: String) -> Int32? {
        let fd = retryingEINTR { open(lockFile, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return errno == ENOENT ? nil : 0 }
        defer { _ = Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let bytes = buffer.prefix(count)
        let text = String(decoding: bytes, as: UTF8.self).trimmingWhitespace()
        if !text.isEmpty, text.allSatisfy(\.isASCIIDigit), let pid = Int32(text) { return pid }
        if count == 4 {
            return bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        }
        return 0
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
