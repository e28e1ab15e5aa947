import Glibc

/// An exclusive advisory lock on a file (`flock`), held until released or the process dies —
/// so a crashed holder never leaves it stale. Used to let one daemon own a socket path.
public final class FileLock: Sendable {
    /// The lock file.
    public let path: String
    private let descriptor: Descriptor

    /// Takes the lock without waiting, creating the file (mode 0600) if needed. The file must
    /// be a regular file reached without a link (see ``SafeFile``).
    /// - Throws: `.inUse` if another open file description holds it; `.notRegularFile`.
    public init(path: String) throws(SystemError) {
        self.path = path
        let fd = try SafeFile.openOrCreateRegularFile(path, flags: O_RDWR, mode: 0o600)
        descriptor = Descriptor(fd, path: path)
        if case .failure(let error) = Syscall.result({ flock(fd, LOCK_EX | LOCK_NB) }) {
            descriptor.close()
            if error == .resourceTemporarilyUnavailable { throw .inUse(path: path) }
            throw .system(call: "flock", path: path, errno: error)
        }
    }

    deinit { release() }

    /// Releases the lock (the file stays). Twice is harmless.
    public func release() { descriptor.close() }
}
