// What soak-bench and scale-bench share: child processes started and watched without
// blocking the cooperative pool, /proc samples of the daemon, fake modem transcripts read as
// they grow, timeouts, a seeded generator and percentiles.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child process with stdout and stderr in files (read by polling, so waiting for it never
/// blocks a thread of the cooperative pool).
public final class Child: @unchecked Sendable {
    public let name: String
    public let process = Process()
    public let stdoutPath: String
    public let stderrPath: String

    public init(_ executable: String, _ arguments: [String], name: String, folder: String) throws {
        self.name = name
        stdoutPath = folder + "/\(name).out"
        stderrPath = folder + "/\(name).err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
              FileManager.default.createFile(atPath: stderrPath, contents: nil),
              let output = FileHandle(forWritingAtPath: stdoutPath),
              let errors = FileHandle(forWritingAtPath: stderrPath) else {
            throw BenchError("cannot create output files in \(folder)")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["RAS_SOCKET"] = nil
        environment["RASMAND_OPTIONS"] = nil
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        try? output.close()
        try? errors.close()
    }

    public var pid: Int32 { process.processIdentifier }
    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout holds `count` lines starting with `ready`.
    public func waitForReady(count: Int, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let ready = stdout.split(separator: "\n").filter { $0.hasPrefix("ready") }.count
            if ready >= count { return }
            if !process.isRunning { throw BenchError("\(name) exited before it was ready: \(stderr.suffix(500))") }
            if ContinuousClock.now >= deadline { throw BenchError("\(name) not ready after \(timeout) (\(ready) of \(count))") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for the exit.
    public func stop(grace: Duration = .seconds(20)) async {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

/// A process's counters from /proc.
public struct ProcessSample: Sendable {
    /// utime + stime, clock ticks (100 per second).
    public var cpuTicks = 0
    public var rssKiB = 0
    public var peakRSSKiB = 0
    public var descriptors = 0
    public var threads = 0

    public init(pid: Int32) {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 13, let user = Int(fields[11]), let system = Int(fields[12]) { cpuTicks = user + system }
        }
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                let value = Int(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first ?? "") ?? 0
                if line.hasPrefix("VmRSS:") { rssKiB = value }
                if line.hasPrefix("VmHWM:") { peakRSSKiB = value }
                if line.hasPrefix("Threads:") { threads = value }
            }
        }
        descriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    public var rssMiB: Double { Double(rssKiB) / 1024 }
}

/// A fake modem transcript read as it grows: the last hook state of each modem.
public final class TranscriptTail: @unchecked Sendable {
    public enum Hook: String, Sendable { case onHook = "on-hook", offHook = "off-hook", unplugged }
    private let lock = NSLock()
    private var path: String
    private var offset: UInt64 = 0
    private var partial = Data()
    private var hooks: [String: Hook] = [:]

    public init(path: String) { self.path = path }

    /// Follows a new file from its start (a restarted fake modem's new transcript).
    public func follow(_ newPath: String) {
        lock.withLock {
            path = newPath
            offset = 0
            partial = Data()
            hooks = [:]
        }
    }

    /// Reads what was appended since the last call.
    public func refresh() {
        lock.withLock {
            guard let file = FileHandle(forReadingAtPath: path) else { return }
            defer { try? file.close() }
            guard (try? file.seek(toOffset: offset)) != nil, let data = try? file.readToEnd(), !data.isEmpty else { return }
            offset += UInt64(data.count)
            partial += data
            while let newline = partial.firstIndex(of: 10) {
                let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
                partial.removeSubrange(partial.startIndex...newline)
                let fields = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard fields.count == 4, fields[2] == "--" else { continue }
                let modem = String(fields[1])
                let event = fields[3]
                if event == "off-hook" {
                    hooks[modem] = .offHook
                } else if event.hasPrefix("on-hook") || event.hasPrefix("power-on") {
                    hooks[modem] = .onHook
                } else if event == "unplug" {
                    hooks[modem] = .unplugged
                }
            }
        }
    }

    public func hook(_ modem: String) -> Hook? { lock.withLock { hooks[modem] } }
    public var allHooks: [String: Hook] { lock.withLock { hooks } }

    /// Waits up to `timeout` for modem `modem` to be on-hook (or unplugged); its last state.
    public func waitOnHook(_ modem: String, timeout: Duration = .seconds(3)) async -> Hook? {
        let deadline = ContinuousClock.now + timeout
        while true {
            refresh()
            let state = hook(modem)
            if state == .onHook || state == .unplugged || ContinuousClock.now >= deadline { return state }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out: \(what)" }
}

/// Runs `body`, or throws ``TimedOut`` after `seconds` (cancelling it).
public func withTimeout<T: Sendable>(_ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw TimedOut(what: what) }
        return value
    }
}

/// SplitMix64: the same sequence for the same seed on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

/// The value below which `fraction` of the sorted `values` lie (nearest rank).
public func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(sorted.count - 1, max(0, rank))]
}

/// Writes `bytes` to the pty slave `writePath` and reads them back on `readPath` (the same
/// path for a loopback), tolerating other bytes around them (line noise). Polls with
/// non-blocking descriptors, so a cancelled or timed-out wait never blocks a thread.
public func pushThrough(_ bytes: [UInt8], write writePath: String, read readPath: String, timeout: Duration) async throws {
    func openRaw(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("open \(path): \(String(cString: strerror(errno)))") }
        var settings = termios()
        if tcgetattr(fd, &settings) == 0 {
            cfmakeraw(&settings)
            settings.c_cflag |= tcflag_t(CLOCAL)
            settings.c_cflag &= ~tcflag_t(HUPCL)
            _ = tcsetattr(fd, TCSANOW, &settings)
        }
        return fd
    }
    let reader = try openRaw(readPath)
    defer { close(reader) }
    let writer = readPath == writePath ? reader : try openRaw(writePath)
    defer { if writer != reader { close(writer) } }
    let deadline = ContinuousClock.now + timeout
    var sent = 0
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        try Task.checkCancellation()
        var progress = false
        if sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
            if count > 0 { sent += count; progress = true } else if count < 0 && errno != EAGAIN && errno != EINTR {
                throw BenchError("write \(writePath): \(String(cString: strerror(errno)))")
            }
        }
        let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
        if count > 0 {
            received += buffer[0..<count]
            progress = true
            if received.count >= bytes.count, contains(received, bytes) { return }
        } else if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
            throw BenchError("read \(readPath): \(count == 0 ? "end of file" : String(cString: strerror(errno))) after \(received.count) bytes")
        }
        if ContinuousClock.now >= deadline {
            throw BenchError("sent \(sent) of \(bytes.count) bytes, got \(received.count) back without the payload")
        }
        if !progress { try await Task.sleep(for: .milliseconds(5)) }
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    if needle.isEmpty { return true }
    for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
        if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
    }
    return false
}

/// A line on stdout, written at once.
public func emit(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
/// A progress line on stderr with the time.
public func progress(_ text: String) { FileHandle.standardError.write(Data("[\(Date())] \(text)\n".utf8)) }

/// The executable `name` in the folder of the running program (the benchmarks are built
/// next to `rasmand`, `rasdial` and `fakemodem`).
public func executableBesideThisOne(_ name: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments.first ?? name).resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent(name).path
}
