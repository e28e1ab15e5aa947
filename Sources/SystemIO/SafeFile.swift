import CSystemSupport
import Glibc
import SystemPackage

/// The type of a file, from its `st_mode`.
public enum FileKind: String, Sendable, Equatable, CustomStringConvertible {
    /// A regular file.
    case regular = "regular file"
    /// A directory.
    case directory
    /// A named pipe: opening one for reading waits for a writer unless `O_NONBLOCK` is given.
    case fifo = "FIFO"
    /// A Unix socket.
    case socket
    /// A character device (a tty, `/dev/zero`, `/dev/watchdog`…).
    case characterDevice = "character device"
    /// A block device.
    case blockDevice = "block device"
    /// A symbolic link (only seen when links are not followed).
    case symbolicLink = "symbolic link"
    /// Anything else.
    case unknown = "unknown file type"

    init(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .regular
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFCHR): self = .characterDevice
        case UInt32(S_IFBLK): self = .blockDevice
        case UInt32(S_IFLNK): self = .symbolicLink
        default: self = .unknown
        }
    }

    public var description: String { rawValue }
}

/// What `stat(2)` says of a file: its identity, type, owner and permission bits.
public struct FileStatus: Sendable, Equatable {
    /// The file's type.
    public var kind: FileKind
    /// The file system it lives on (`st_dev`).
    public var fileSystem: UInt64
    /// Its inode number (`st_ino`).
    public var inode: UInt64
    /// The permission bits (`st_mode & 07777`).
    public var permissions: UInt32
    /// The owner's uid.
    public var owner: UInt32
    /// The group's gid.
    public var group: UInt32
    /// For a device: its major number (`major(st_rdev)`), else 0.
    public var deviceMajor: UInt32
    /// For a device: its minor number, else 0.
    public var deviceMinor: UInt32
    /// The size in bytes.
    public var size: Int64

    init(_ info: stat) {
        kind = FileKind(mode: UInt32(info.st_mode))
        fileSystem = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        permissions = UInt32(info.st_mode) & 0o7777
        owner = info.st_uid
        group = info.st_gid
        let isDevice = kind == .characterDevice || kind == .blockDevice
        deviceMajor = isDevice ? csupport_major(UInt(info.st_rdev)) : 0
        deviceMinor = isDevice ? csupport_minor(UInt(info.st_rdev)) : 0
        size = Int64(info.st_size)
    }

    /// The status of `path`; with `followLinks` false a symbolic link is described itself
    /// (`lstat`). The corresponding C functions are `stat` and `lstat`.
    public static func of(_ path: String, followLinks: Bool = true) throws(SystemError) -> FileStatus {
        var info = stat()
        try Syscall.check(followLinks ? "stat" : "lstat", path: path) { followLinks ? stat(path, &info) : lstat(path, &info) }
        return FileStatus(info)
    }

    /// The status of an open descriptor (`fstat`).
    package static func of(descriptor fd: Int32, path: String) throws(SystemError) -> FileStatus {
        var info = stat()
        try Syscall.check("fstat", path: path) { fstat(fd, &info) }
        return FileStatus(info)
    }

    /// Whether both describe the same file (file system and inode).
    public func isSameFile(as other: FileStatus) -> Bool {
        fileSystem == other.fileSystem && inode == other.inode
    }

    /// Whether both describe the same device node, still with the same device numbers, owner
    /// and permissions (what a check of it decided on).
    public func isSameDevice(as other: FileStatus) -> Bool {
        isSameFile(as: other) && deviceMajor == other.deviceMajor && deviceMinor == other.deviceMinor
            && owner == other.owner && permissions == other.permissions
    }

    /// `ls -l`'s mode column (`crw-rw----`) with owner and group ids, for error messages.
    public var modeDescription: String {
        let type: Character = switch kind {
        case .directory: "d"
        case .characterDevice: "c"
        case .blockDevice: "b"
        case .fifo: "p"
        case .socket: "s"
        case .symbolicLink: "l"
        case .regular, .unknown: "-"
        }
        var text = String(type)
        for shift in [6, 3, 0] as [UInt32] {
            let bits = (permissions >> shift) & 0o7
            text += (bits & 4 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + (bits & 1 != 0 ? "x" : "-")
        }
        return "\(text) uid \(owner) gid \(group)"
    }
}

/// Kinds of access to a file, checked against its permission bits.
public struct FileAccess: OptionSet, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Read (`r`).
    public static let read = FileAccess(rawValue: 4)
    /// Write (`w`).
    public static let write = FileAccess(rawValue: 2)
    /// Execute, or search for a folder (`x`).
    public static let search = FileAccess(rawValue: 1)

    public var description: String {
        [(FileAccess.read, "read"), (.write, "write"), (.search, "search")]
            .filter { contains($0.0) }.map(\.1).joined(separator: " and ")
    }
}

extension PeerCredentials {
    /// Whether these credentials pass `status`'s permission bits for `access`, as the kernel
    /// checks them without ACLs: the owner's bits if the uid owns it, else the group's if the
    /// peer is in the file's group (primary or supplementary), else the others'. Root passes.
    public func may(_ access: FileAccess, _ status: FileStatus) -> Bool {
        if uid == 0 { return true }
        let shift: UInt32 = status.owner == uid ? 6 : isMember(of: status.group) ? 3 : 0
        return (status.permissions >> shift) & access.rawValue == access.rawValue
    }

    /// Checks that these credentials may reach `path` (search on every folder above it) and
    /// have `access` to the file itself. `path` must be absolute; links are followed.
    /// - Returns: the file's status.
    /// - Throws: ``SystemError/notPermitted(path:reason:)`` naming what stopped the peer, or
    ///   `.system` when a part of the path cannot be examined (`ENOENT` for a missing one).
    @discardableResult
    public func checkAccess(_ access: FileAccess, to path: String) throws(SystemError) -> FileStatus {
        var folder = path
        var folders: [String] = []
        while let slash = folder.lastIndex(of: "/") {
            folder = slash == folder.startIndex ? "/" : String(folder[..<slash])
            folders.append(folder)
            if folder == "/" { break }
        }
        for folder in folders.reversed() {
            let status = try FileStatus.of(folder)
            guard may(.search, status) else {
                throw .notPermitted(path: path, reason: "uid \(uid) may not search \(folder) (\(status.modeDescription))")
            }
        }
        let status = try FileStatus.of(path)
        guard may(access, status) else {
            throw .notPermitted(path: path, reason: "uid \(uid) may not \(access) it (\(status.modeDescription))")
        }
        return status
    }

    /// ``checkAccess(_:to:)`` for a path that was resolved: the folders of the path as given
    /// must be searchable too (a link does not let the peer through a folder it cannot
    /// enter), then `access` is checked on the resolved file.
    /// - Returns: the resolved file's status.
    @discardableResult
    public func checkAccess(_ access: FileAccess, to resolved: String, givenAs path: String) throws(SystemError) -> FileStatus {
        if path.hasPrefix("/"), path != resolved { try checkAccess([], to: path) }
        return try checkAccess(access, to: resolved)
    }
}

/// Opening files whose names come from other users, or that live in folders other users can
/// write (`/run/lock` is 1777), without the ways such a file can hurt the opener: a FIFO that
/// blocks `open` until a writer comes, a device whose open has effects or that never ends
/// (`/dev/zero`, `/dev/watchdog`), a symbolic link swapped in after the check. Every open is
/// `O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY`, the file's type is checked with `lstat`
/// before the open and with `fstat` after it, and both must name the same file.
public enum SafeFile {
    /// The most ``readRegularFile(_:maxBytes:requester:)`` reads by default: 4 MiB.
    public static let defaultReadLimit = 4 << 20

    /// Reads a regular file.
    ///
    /// The path's links are resolved first (`realpath`), so a user's phonebook may be a link;
    /// the resolved file is then opened with `O_NOFOLLOW`, and must be the very file that was
    /// checked. With a `requester`, the resolved path (and the path as given) must be
    /// readable by it through its permission bits (see ``PeerCredentials/checkAccess(_:to:)``).
    /// - Throws: ``SystemError/notRegularFile(path:kind:)`` for a FIFO, device, folder or
    ///   socket (never opened), ``SystemError/tooLarge(path:limit:)`` past `maxBytes`,
    ///   ``SystemError/notPermitted(path:reason:)``, or `.system` (`ENOENT` for a missing file).
    public static func readRegularFile(
        _ path: String, maxBytes: Int = defaultReadLimit, requester: PeerCredentials? = nil
    ) throws(SystemError) -> [UInt8] {
        let resolved = try resolve(path)
        var checked: FileStatus?
        if let requester { checked = try requester.checkAccess(.read, to: resolved, givenAs: path) }
        let fd = try openChecked(resolved, reportedAs: path, flags: O_RDONLY, expected: checked)
        defer { _ = Glibc.close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = try Syscall.check("read", path: path) { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if count == 0 { return bytes }
            bytes += chunk.prefix(count)
            if bytes.count > maxBytes { throw .tooLarge(path: path, limit: maxBytes) }
        }
    }

    /// Opens `path` for writing as a regular file, creating it with `mode` if it does not
    /// exist and truncating it (or appending with `append`). A link at `path` is refused
    /// (`ELOOP`), and so is anything that is not a regular file (never truncated or written).
    /// - Returns: the descriptor (close-on-exec; blocking, as a regular file always is).
    public static func openForWriting(_ path: String, mode: mode_t = 0o644, append: Bool = false) throws(SystemError) -> Int32 {
        let fd = try openOrCreateRegularFile(path, flags: O_WRONLY | (append ? O_APPEND : 0), mode: mode)
        do throws(SystemError) {
            if !append { try Syscall.check("ftruncate", path: path) { ftruncate(fd, 0) } }
            try clearNonBlocking(fd, path: path)
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Opens `path` (`flags` plus `O_CREAT`) as a regular file, creating it with `mode`: an
    /// existing FIFO, device, folder or socket is refused before it is opened, a link is
    /// refused (`ELOOP`), and the opened file is checked again with `fstat`.
    /// - Returns: a non-blocking, close-on-exec descriptor.
    package static func openOrCreateRegularFile(_ path: String, flags: Int32, mode: mode_t) throws(SystemError) -> Int32 {
        if let existing = try? FileStatus.of(path, followLinks: false), existing.kind != .regular {
            throw .notRegularFile(path: path, kind: existing.kind)
        }
        let fd = try Syscall.check("open", path: path) {
            Glibc.open(path, flags | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode)
        }
        do throws(SystemError) {
            let status = try FileStatus.of(descriptor: fd, path: path)
            guard status.kind == .regular else { throw .notRegularFile(path: path, kind: status.kind) }
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Opens an existing regular file at exactly `path` (no link followed) for reading.
    /// Used for files in folders other users can write, such as lock files.
    /// - Returns: the descriptor and the file's status.
    package static func openExistingRegularFile(_ path: String) throws(SystemError) -> (Int32, FileStatus) {
        let fd = try openChecked(path, reportedAs: path, flags: O_RDONLY)
        do throws(SystemError) {
            return (fd, try FileStatus.of(descriptor: fd, path: path))
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// `path` with every link resolved (`realpath`).
    package static func resolve(_ path: String) throws(SystemError) -> String {
        let resolved = try Syscall.pointerResult { realpath(path, nil) }.get("realpath", path: path)
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// `lstat`, refuse anything but a regular file, open without following, `fstat`, and
    /// refuse a different file than the one checked (`expected`, when a check came first).
    private static func openChecked(
        _ path: String, reportedAs name: String, flags: Int32, expected: FileStatus? = nil
    ) throws(SystemError) -> Int32 {
        let before = try FileStatus.of(path, followLinks: false)
        guard before.kind == .regular else { throw .notRegularFile(path: name, kind: before.kind) }
        if let expected, !before.isSameFile(as: expected) {
            throw .notPermitted(path: name, reason: "the file was replaced while it was being checked")
        }
        let fd = try Syscall.check("open", path: name) { Glibc.open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }
        do throws(SystemError) {
            let after = try FileStatus.of(descriptor: fd, path: name)
            guard after.kind == .regular else { throw .notRegularFile(path: name, kind: after.kind) }
            guard after.isSameFile(as: before) else {
                throw .notPermitted(path: name, reason: "the file was replaced while it was being opened")
            }
            return fd
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    private static func clearNonBlocking(_ fd: Int32, path: String) throws(SystemError) {
        let flags = try Syscall.check("fcntl(F_GETFL)", path: path) { fcntl(fd, F_GETFL) }
        try Syscall.check("fcntl(F_SETFL)", path: path) { fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    }
}
