import Glibc

/// Calls about this process that the daemon and its clients need.
public enum ProcessIdentity {
    /// This process's ID.
    public static var processID: Int32 { getpid() }
    /// The real user ID.
    public static var userID: UInt32 { getuid() }
    /// The effective user ID (0 when running as root).
    public static var effectiveUserID: UInt32 { geteuid() }

    /// Starts a new session so that the process no longer belongs to the terminal that
    /// started it (a terminal's SIGINT or SIGHUP will not reach it).
    /// - Returns: `false` if the process already leads a process group.
    @discardableResult
    public static func detachFromTerminal() -> Bool { setsid() >= 0 }

    /// Whether process `pid` is alive: it exists (`kill(pid, 0)` succeeds, or fails with
    /// `EPERM`: someone else's process) and is not a zombie — a holder that died but was not
    /// yet reaped (slow in containers whose PID 1 reaps late) owns nothing any more.
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        switch Syscall.result({ kill(pid, 0) }) {
        case .success, .failure(.notPermitted): break
        case .failure: return false
        }
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { _ = close(fd) }
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0, let paren = buffer.prefix(count).lastIndex(of: UInt8(ascii: ")")), paren + 2 < count else { return true }
        return buffer[paren + 2] != UInt8(ascii: "Z")
    }
}

/// Facts about the process's terminal.
public enum TerminalInfo {
    /// Whether descriptor `fd` (1: stdout) is a terminal.
    public static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }
}
