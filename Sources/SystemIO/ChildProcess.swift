import CSystemSupport
import Glibc
import Synchronization
import SystemPackage

/// A program the daemon runs (pppd): spawned with a clean signal state, its output read
/// through the reactor, its exit seen through a pidfd, and always reaped — so no child is
/// left behind as a zombie or an orphan.
public final class ChildProcess: Sendable {
    /// How the process ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It exited with this status.
        case exited(Int32)
        /// A signal killed it.
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    /// The process id.
    public let pid: Int32
    /// The program's path.
    public let executable: String
    private let output: Descriptor
    private let exitWatch: Descriptor?
    private let termination = Mutex<Termination?>(nil)

    /// Starts `executable` with `arguments` (without the program name) and `environment`
    /// (`NAME=value`). Its stdin gives `input` and then end-of-file (`nil`: `/dev/null`);
    /// stdout and stderr go to one pipe read by ``readOutput(deadline:)``. With a `terminal`
    /// (an open descriptor, e.g. a modem's port) stdin and stdout are that descriptor instead,
    /// as chat(8) expects, and only stderr goes to the pipe. Every signal is at its default
    /// action in the child, none blocked; it gets its own process group.
    /// - Throws: `.system` when the program cannot be started (`ENOENT`, `EACCES`…).
    public init(
        executable: String, arguments: [String], environment: [String] = [], input: [UInt8]? = nil,
        terminal: Int32? = nil
    ) throws(SystemError) {
        self.executable = executable
        var outputPipe: [Int32] = [-1, -1]
        try Syscall.check("pipe2", path: executable) { csupport_pipe2(&outputPipe, O_CLOEXEC) }
        var inputPipe: [Int32] = [-1, -1]
        if let input {
            guard input.count <= 4096 else {
                _ = Glibc.close(outputPipe[0]); _ = Glibc.close(outputPipe[1])
                throw .tooLarge(path: executable, limit: 4096)
            }
            if case .failure(let error) = Syscall.result({ csupport_pipe2(&inputPipe, O_CLOEXEC) }) {
                _ = Glibc.close(outputPipe[0]); _ = Glibc.close(outputPipe[1])
                throw .system(call: "pipe2", path: executable, errno: error)
            }
            // A pipe holds 4 KiB at least: the write cannot block.
            _ = input.withUnsafeBytes { Glibc.write(inputPipe[1], $0.baseAddress, $0.count) }
            _ = Glibc.close(inputPipe[1])
        }
        var child: Int32 = 0
        let result = Self.withCStrings([executable] + arguments) { argv in
            Self.withCStrings(environment) { envp in
                csupport_spawn(executable, argv, envp, terminal ?? inputPipe[0], terminal ?? outputPipe[1], outputPipe[1], &child)
            }
        }
        if inputPipe[0] >= 0 { _ = Glibc.close(inputPipe[0]) }
        _ = Glibc.close(outputPipe[1])
        guard result == 0 else {
            _ = Glibc.close(outputPipe[0])
            // posix_spawn returns its error number instead of setting errno.
            throw .system(call: "posix_spawn", path: executable, errno: Errno(rawValue: result))
        }
        pid = child
        _ = fcntl(outputPipe[0], F_SETFL, fcntl(outputPipe[0], F_GETFL) | O_NONBLOCK)
        output = Descriptor(outputPipe[0], path: executable)
        let pidfd = csupport_pidfd_open(child)
        if pidfd >= 0 {
            _ = fcntl(pidfd, F_SETFD, FD_CLOEXEC)
            exitWatch = Descriptor(pidfd, path: executable)
        } else {
            exitWatch = nil
        }
    }

    deinit {
        // Never leave a child behind: kill it and reap it.
        if termination.withLock({ $0 }) == nil {
            _ = kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = Syscall.result { waitpid(pid, &status, 0) }
        }
        output.close()
        exitWatch?.close()
    }

    /// How it ended, once it has (and was reaped).
    public var exitStatus: Termination? {
        if let known = termination.withLock({ $0 }) { return known }
        return reap()
    }

    private func reap() -> Termination? {
        termination.withLock { known -> Termination? in
            if let known { return known }
            var exited: Int32 = 0
            var code: Int32 = 0
            guard csupport_reap(pid, &exited, &code) == 1 else { return nil }
            known = exited == 1 ? .exited(code) : .signalled(code)
            return known
        }
    }

    /// Sends `signal` unless the process has already been reaped (its pid may be reused).
    public func send(_ signal: Int32) {
        termination.withLock { known in
            if known == nil { _ = kill(pid, signal) }
        }
    }

    /// Output (stdout and stderr) as it comes: bytes, `[]` when the deadline passed, `nil`
    /// at end-of-file (every copy of the pipe closed: the program and anything it started).
    public func readOutput(deadline: ContinuousClock.Instant?) async throws(SystemError) -> [UInt8]? {
        try await output.readAvailable(deadline: deadline)
    }

    /// Waits until the process exits (and reaps it), or `deadline` passes.
    public func waitForExit(deadline: ContinuousClock.Instant?) async -> Termination? {
        while true {
            if let done = exitStatus { return done }
            if let deadline, deadline <= .now { return nil }
            if let exitWatch {
                let readiness = await exitWatch.wait(events: Int16(POLLIN), deadline: deadline)
                if readiness.cancelled { return exitStatus }
            } else {
                let step = ContinuousClock.now + .milliseconds(20)
                do { try await Task.sleep(until: deadline.map { min($0, step) } ?? step) } catch { return exitStatus }
            }
        }
    }

    /// `SIGTERM`, up to `grace` for it to exit, then `SIGKILL`; returns how it ended.
    @discardableResult
    public func stop(grace: Duration) async -> Termination? {
        send(SIGTERM)
        if let done = await waitForExit(deadline: .now + grace) { return done }
        send(SIGKILL)
        return await waitForExit(deadline: .now + .seconds(5))
    }

    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>?) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// A named pipe in a private folder that programs the daemon starts (pppd's hook scripts)
/// write lines into. The daemon holds a writer of its own, so the reader never sees
/// end-of-file between two writers.
public final class EventFifo: Sendable {
    /// Where it is.
    public let path: String
    private let reader: Descriptor
    private let keeper: Descriptor

    /// Makes the FIFO at `path` (mode 0600; nothing may be there) and opens it.
    public init(path: String) throws(SystemError) {
        self.path = path
        try Syscall.check("mkfifo", path: path) { mkfifo(path, 0o600) }
        let readFD: Int32
        do throws(SystemError) {
            readFD = try Syscall.check("open", path: path) { Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW) }
        } catch {
            _ = unlink(path)
            throw error
        }
        let writeFD: Int32
        do throws(SystemError) {
            writeFD = try Syscall.check("open", path: path) { Glibc.open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW) }
        } catch {
            _ = Glibc.close(readFD)
            _ = unlink(path)
            throw error
        }
        reader = Descriptor(readFD, path: path)
        keeper = Descriptor(writeFD, path: path)
    }

    deinit { close() }

    /// Bytes written so far, `[]` when the deadline passed first.
    public func read(deadline: ContinuousClock.Instant?) async throws(SystemError) -> [UInt8] {
        try await reader.readAvailable(deadline: deadline) ?? []
    }

    /// Closes it and removes it. Twice is harmless.
    public func close() {
        if !reader.isClosed { _ = unlink(path) }
        reader.close()
        keeper.close()
    }
}

extension Descriptor {
    /// What can be read now, waiting for it until `deadline`: bytes, `[]` at the deadline,
    /// `nil` at end-of-file.
    func readAvailable(deadline: ContinuousClock.Instant?) async throws(SystemError) -> [UInt8]? {
        while true {
            let result = try withFD { fd throws(SystemError) -> [UInt8]?? in
                var buffer = [UInt8](repeating: 0, count: 4096)
                switch Syscall.result({ buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }) {
                case .success(0): return .some(nil)
                case .success(let count): return .some(Array(buffer.prefix(count)))
                case .failure(.resourceTemporarilyUnavailable): return .none
                case .failure(let error): throw .system(call: "read", path: path, errno: error)
                }
            }
            if let result { return result }
            let readiness = await wait(events: Int16(POLLIN), deadline: deadline)
            if readiness.cancelled { throw isClosed ? .closed(path: path) : .cancelled(operation: "read", path: path) }
            if readiness.revents == 0 { return [] }
        }
    }
}
