import CSystemSupport
import Glibc

/// systemd's socket activation protocol (`sd_listen_fds(3)`): the listening sockets a
/// socket unit passed, as descriptors 3, 4, … when `LISTEN_PID` names this process and
/// `LISTEN_FDS` counts them.
public enum SocketActivation {
    /// The first descriptor systemd passes.
    public static let firstDescriptor: Int32 = 3

    /// The descriptors passed to this process, in order; empty when it was not socket
    /// activated (no `LISTEN_FDS`, or `LISTEN_PID` names another process, e.g. a parent that
    /// was activated and started us). `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES` are
    /// removed from the environment, so children (pppd) do not take the sockets for theirs,
    /// and the descriptors are marked close-on-exec.
    public static func takeListeningDescriptors() -> [Int32] {
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = getenv("LISTEN_PID").map({ String(cString: $0) }), let pid = Int32(pidText),
              pid == getpid(),
              let countText = getenv("LISTEN_FDS").map({ String(cString: $0) }), let count = Int32(countText),
              count > 0, count < 1024 else {
            return []
        }
        let descriptors = Array(firstDescriptor..<(firstDescriptor + count))
        for fd in descriptors { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return descriptors
    }
}

extension UnixSocketListener {
    /// Adopts a listening Unix stream socket someone else bound (systemd's socket unit):
    /// its path is read from the socket; ``close()`` stops listening but leaves the socket
    /// file to its owner.
    /// - Throws: `.system` when `fd` is not a listening `AF_UNIX` stream socket bound to a path.
    public convenience init(adopting fd: Int32) throws(SystemError) {
        func option(_ name: Int32) throws(SystemError) -> Int32 {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            try Syscall.check("getsockopt", path: "fd \(fd)") { getsockopt(fd, SOL_SOCKET, name, &value, &length) }
            return value
        }
        guard try option(SO_DOMAIN) == AF_UNIX, try option(SO_TYPE) == Int32(SOCK_STREAM.rawValue),
              try option(SO_ACCEPTCONN) == 1 else {
            throw .system(call: "adopt a listening AF_UNIX stream socket", path: "fd \(fd)", errno: .notSocket)
        }
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        try Syscall.check("getsockname", path: "fd \(fd)") {
            withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
        }
        let path = withUnsafeBytes(of: address.sun_path) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard path.hasPrefix("/") else {
            throw .system(call: "adopt a socket bound to a path", path: "fd \(fd)", errno: .invalidArgument)
        }
        let flags = fcntl(fd, F_GETFL)
        try Syscall.check("fcntl(O_NONBLOCK)", path: path) { fcntl(fd, F_SETFL, (flags < 0 ? 0 : flags) | O_NONBLOCK) }
        self.init(descriptor: Descriptor(fd, path: path), path: path, ownsPath: false)
    }
}
