import Glibc

/// Symbolic links the daemon keeps in its own runtime folder (a connection's stable data
/// path name, `lines/<entry>`).
public enum SymbolicLink {
    /// Points `path` at `target`, replacing whatever link is there, atomically: the link
    /// is made under a temporary name in the same folder and renamed over `path`.
    public static func replace(at path: String, target: String) throws(SystemError) {
        let temporary = path + ".\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        try Syscall.check("symlink", path: temporary) { Glibc.symlink(target, temporary) }
        do throws(SystemError) {
            try Syscall.check("rename", path: path) { Glibc.rename(temporary, path) }
        } catch {
            _ = Glibc.unlink(temporary)
            throw error
        }
    }

    /// The target of the link at `path`; `nil` if there is none (or `path` is not a link).
    public static func target(of path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let base = pointer.baseAddress else { return -1 }
            return readlink(path, base, pointer.count)
        }
        guard count > 0 else { return nil }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes the link at `path` if it still points at `target` (a later connection of
    /// the same name may have taken the name over). - Returns: whether it was removed.
    @discardableResult
    public static func remove(at path: String, ifTarget target: String) -> Bool {
        guard Self.target(of: path) == target else { return false }
        return Glibc.unlink(path) == 0
    }
}
