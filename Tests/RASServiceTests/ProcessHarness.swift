import Foundation
import RAS
import RASService
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built `rasdial`, `rasmand` and `fakemodem` executables: next to the test bundle
/// (`.build/<triple>/<config>/`), or in `$SWIFT_RAS_BIN_DIR`.
enum Binaries {
    static let directory: URL? = {
        let files = FileManager.default
        var candidates: [URL] = []
        if let explicit = ProcessInfo.processInfo.environment["SWIFT_RAS_BIN_DIR"], !explicit.isEmpty {
            candidates.append(URL(fileURLWithPath: explicit, isDirectory: true))
        }
        if let own = Bundle.main.executableURL?.resolvingSymlinksInPath() {
            // The runner itself, or a binary inside an .xctest bundle folder.
            candidates += [own.deletingLastPathComponent(), own.deletingLastPathComponent().deletingLastPathComponent()]
        }
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first).resolvingSymlinksInPath()
            candidates += [url.deletingLastPathComponent(), url.deletingLastPathComponent().deletingLastPathComponent()]
        }
        return candidates.first { folder in
            ["rasdial", "rasmand", "fakemodem"].allSatisfy { files.isExecutableFile(atPath: folder.appendingPathComponent($0).path) }
        }
    }()

    /// The executable `name`; fails the test clearly when it has not been built.
    static func url(_ name: String) throws -> URL {
        let directory = try #require(
            directory,
            "the rasdial, rasmand and fakemodem executables were not found next to the test bundle (\(Bundle.main.executableURL?.path ?? "?")); build them (swift build) or set SWIFT_RAS_BIN_DIR")
        return directory.appendingPathComponent(name)
    }
}

/// A child process with its stdout and stderr in files.
final class Spawned: @unchecked Sendable {
    let name: String
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    /// `stderrPath` sends stderr to that file (created if missing) instead of a new one in `folder`.
    init(_ executable: URL, _ arguments: [String], name: String, folder: String, environment: [String: String] = [:],
         stderrPath: String? = nil) throws {
        self.name = name
        let unique = UUID().uuidString.prefix(6)
        stdoutPath = folder + "/\(name)-\(unique).out"
        self.stderrPath = stderrPath ?? folder + "/\(name)-\(unique).err"
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
              FileManager.default.fileExists(atPath: self.stderrPath) || FileManager.default.createFile(atPath: self.stderrPath, contents: nil),
              let output = FileHandle(forWritingAtPath: stdoutPath),
              let errors = FileHandle(forWritingAtPath: self.stderrPath) else {
            throw HarnessError.files(folder)
        }
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        merged["RAS_SOCKET"] = nil
        merged["RASMAND_OPTIONS"] = nil
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// What the process wrote on stderr (nothing for a device such as `/dev/full`).
    var stderr: String { stderrPath.hasPrefix("/dev/") ? "" : (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var stdoutLines: [String] { stdout.split(separator: "\n").map(String.init) }

    /// Waits for the process to exit; its status (128 + signal when killed by a signal).
    func waitForExit(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                Issue.record("\(name) did not exit within \(timeout); stderr: \(stderr)")
                throw HarnessError.timeout("\(name) did not exit")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// Waits until stdout holds `count` lines starting with `ready `; returns what follows.
    func ready(count: Int = 1, timeout: Duration = .seconds(20)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let lines = stdoutLines.filter { $0.hasPrefix("ready ") }.map { String($0.dropFirst(6)) }
            if lines.count >= count { return lines }
            if !process.isRunning || ContinuousClock.now >= deadline {
                throw HarnessError.timeout("\(name) is not ready; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    func signal(_ number: Int32) {
        if process.isRunning { _ = kill(process.processIdentifier, number) }
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case timeout(String)
    case files(String)
    var description: String {
        switch self {
        case .timeout(let what): "timed out: \(what)"
        case .files(let folder): "cannot create output files in \(folder)"
        }
    }
}

/// The result of a short command.
struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
    var lines: [String] { stdout.split(separator: "\n").map(String.init) }
    /// stdout's lines parsed as JSON objects; a line that is an array (a listing) gives its
    /// elements.
    var objects: [[String: Any]] {
        lines.flatMap { line -> [[String: Any]] in
            let value = try? JSONSerialization.jsonObject(with: Data(line.utf8))
            if let object = value as? [String: Any] { return [object] }
            return value as? [[String: Any]] ?? []
        }
    }

    /// Whether every line of stdout is one valid JSON value.
    var isJSONLines: Bool {
        lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }
    }
}

/// A test bench: a temporary folder with a socket path, a UUCP lock folder, and the
/// processes started for one test, all stopped and removed by ``run(_:_:)``.
final class Bench: @unchecked Sendable {
    let folder: String
    let socket: String
    let lockDir: String
    private let lock = NSLock()
    private var children: [Spawned] = []
    private var foreignDaemons: [Int32] = []

    /// Short modem timings for the daemon (the fake modem answers at once).
    static let daemonTimings = [
        "--inter-command-ms", "10", "--dtr-drop-ms", "50",
        "--hangup-confirm-ms", "1000", "--escape-guard-ms", "200", "--abort-dial-ms", "1000",
        "--carrier-poll-ms", "50", "--command-timeout-ms", "3000", "--shutdown-timeout", "20",
    ]

    /// A scenario: 5550100 is busy, 5550200 never answers, 5550300 connects and drops after 300 ms,
    /// everything else connects after 50 ms.
    static let scenario = """
        description: RASServiceTests
        numbers:
          - number: "5550100"
            result: BUSY
            delay: 0.05
          - number: "5550200"
            silence: true
          - number: "5550300"
            connect: CONNECT 33600
            delay: 0.05
            drop-after: 0.3
        otherwise:
          connect: CONNECT 115200
          delay: 0.05
        """

    private init(_ label: String) throws {
        folder = try TestSupport.temporaryDirectory(label).path
        socket = folder + "/rasmand.sock"
        lockDir = folder + "/lock"
        try FileManager.default.createDirectory(atPath: lockDir, withIntermediateDirectories: true)
        try Data(Self.scenario.utf8).write(to: URL(fileURLWithPath: folder + "/scenario.yaml"))
    }

    /// Runs `body` with a new bench, then stops every process it started and removes the folder.
    static func run(_ label: String, _ body: (Bench) async throws -> Void) async throws {
        let bench = try Bench(label)
        do {
            try await body(bench)
        } catch {
            await bench.tearDown()
            throw error
        }
        await bench.tearDown()
    }

    private func tearDown() async {
        let (spawned, foreign) = lock.withLock { (children, foreignDaemons) }
        for pid in foreign { _ = kill(pid, SIGTERM) }
        for child in spawned.reversed() where child.isRunning {
            child.signal(SIGTERM)
            if (try? await child.waitForExit(timeout: .seconds(20))) == nil { child.signal(SIGKILL) }
        }
        // A daemon rasdial started is not our child: wait for it to remove its socket.
        if !foreign.isEmpty {
            _ = await TestSupport.eventually(timeout: .seconds(20)) { !FileManager.default.fileExists(atPath: self.socket) }
        }
        TestSupport.remove(URL(fileURLWithPath: folder))
    }

    func adopt(_ child: Spawned) {
        lock.withLock { children.append(child) }
    }

    /// Remembers a daemon that `rasdial` started, to stop it at the end.
    func adoptDaemon(pid: Int32) {
        lock.withLock { foreignDaemons.append(pid) }
    }

    /// Starts `fakemodem` with `count` modems on links `<folder>/modem[-i]`; returns the link paths.
    func startFakeModems(count: Int = 1, extra: [String] = []) async throws -> FakeModems {
        let link = folder + "/modem"
        var arguments = ["--link", link, "--scenario", folder + "/scenario.yaml", "--transcript", folder + "/transcript.log"]
        if count > 1 { arguments += ["--count", "\(count)"] }
        let child = try Spawned(try Binaries.url("fakemodem"), arguments + extra, name: "fakemodem", folder: folder)
        adopt(child)
        let slaves = try await child.ready(count: count)
        let links = count == 1 ? [link] : (0..<count).map { "\(link)-\($0)" }
        return FakeModems(process: child, links: links, slaves: slaves, transcriptPath: folder + "/transcript.log")
    }

    /// Starts `rasmand` on the bench's socket and lock folder and waits until it is ready.
    func startDaemon(extra: [String] = [], name: String = "rasmand") async throws -> Spawned {
        let child = try Spawned(try Binaries.url("rasmand"), daemonArguments + extra, name: name, folder: folder)
        adopt(child)
        _ = try await child.ready()
        return child
    }

    /// The daemon options every test uses: the bench's socket and lock folder, short timings.
    var daemonArguments: [String] {
        ["--socket", socket, "--lock-dir", lockDir, "--log-level", "debug"] + Self.daemonTimings
    }

    /// Runs `rasdial` with `--socket` set to the bench's socket and waits for it to exit.
    func rasdial(_ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let child = try startRasdial(arguments, environment: environment)
        let status = try await child.waitForExit(timeout: timeout)
        return CommandResult(status: status, stdout: child.stdout, stderr: child.stderr)
    }

    /// Starts `rasdial` (with `--socket`) without waiting for it.
    func startRasdial(_ arguments: [String], environment: [String: String] = [:]) throws -> Spawned {
        var environment = environment
        if environment["XDG_CONFIG_HOME"] == nil { environment["XDG_CONFIG_HOME"] = folder + "/config" }
        let child = try Spawned(try Binaries.url("rasdial"), arguments + ["--socket", socket], name: "rasdial",
                                folder: folder, environment: environment)
        adopt(child)
        return child
    }

    /// Writes a phonebook with one entry per (name, port, number) and returns its path.
    func phonebook(_ entries: [(name: String, port: String, number: String)], file: String = "rasphone.pbk") throws -> String {
        let path = folder + "/" + file
        let text = entries.map { "[\($0.name)]\nMEDIA=serial\nPort=\($0.port)\nDEVICE=modem\nPhoneNumber=\($0.number)\n" }
            .joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The UUCP lock files left in the bench's lock folder.
    var lockFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: lockDir)) ?? []).filter { $0.hasPrefix("LCK..") }.sorted()
    }

    /// A client of the bench's daemon.
    func client() async throws -> RASClient {
        try await RASClient.connect(socketPath: socket)
    }
}

/// A running `fakemodem` process.
struct FakeModems {
    let process: Spawned
    let links: [String]
    let slaves: [String]
    let transcriptPath: String

    var transcript: String { (try? String(contentsOfFile: transcriptPath, encoding: .utf8)) ?? "" }

    /// The events (` -- ` lines) of modem `index`, without the time stamp and name.
    func events(_ index: Int = 0) -> [String] {
        let marker = "modem\(index) -- "
        return transcript.split(separator: "\n").compactMap { line in
            line.range(of: marker).map { String(line[$0.upperBound...]) }
        }
    }

    /// Waits until modem `index` has recorded `count` events starting with `prefix`.
    func waitForEvent(_ prefix: String, modem index: Int = 0, count: Int = 1, timeout: Duration = .seconds(10)) async -> Bool {
        await TestSupport.eventually(timeout: timeout) { events(index).filter { $0.hasPrefix(prefix) }.count >= count }
    }
}

/// Polls `connectStatus` until it answers ERROR_INVALID_HANDLE (6).
func waitUntilGone(_ handle: RasConnectionHandle, on service: any RasService, timeout: Duration = .seconds(20)) async -> Bool {
    await TestSupport.eventually(timeout: timeout) {
        do throws(RasError) {
            _ = try await service.connectStatus(handle)
            return false
        } catch {
            return error == .invalidHandle
        }
    }
}

/// Reads notifications until a terminal state (Connected, or Disconnected) and returns them all.
func collectUntilTerminal(_ stream: AsyncStream<RasDialNotification>) async -> [RasDialNotification] {
    var seen: [RasDialNotification] = []
    for await notification in stream {
        seen.append(notification)
        if notification.state == .connected || notification.state == .disconnected { break }
    }
    return seen
}
