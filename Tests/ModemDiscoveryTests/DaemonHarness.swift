import DiscoveryTestbed
import Foundation
import ModemDiscovery
import RAS
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `discovery-test-harness daemon` as a child process: rasmand's core serving on a socket
/// in a temporary folder, inside an umockdev testbed with fake modems behind the device
/// nodes (see DaemonMode.swift in the harness). The tests drive it with the real `rasdial`
/// (not preloaded) and with `RASClient`, and plug devices in and out through commands on
/// its standard input.
final class DaemonHarness: @unchecked Sendable {
    let folder: String
    let socket: String
    private let process = Process()
    private let input = Pipe()
    private let stdoutPath: String
    private let stderrPath: String

    /// How long to wait for anything the daemon does (generous: 2 shared cores).
    static let patience = Duration.seconds(60)

    private init(arguments: [String]) throws {
        folder = try TestSupport.temporaryDirectory("daemon-harness").path
        socket = folder + "/rasmand.sock"
        stdoutPath = folder + "/harness.out"
        stderrPath = folder + "/harness.err"
        try FileManager.default.createDirectory(atPath: folder + "/lock", withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
              FileManager.default.createFile(atPath: stderrPath, contents: nil),
              let output = FileHandle(forWritingAtPath: stdoutPath),
              let errors = FileHandle(forWritingAtPath: stderrPath) else {
            throw Harness.Failure(description: "cannot create the harness output files in \(folder)")
        }
        let executable = Harness.productsDirectory.appendingPathComponent("discovery-test-harness")
        guard FileManager.default.isExecutableFile(atPath: executable.path) else {
            throw Harness.Failure(description: "\(executable.path) is missing: build the package first (swift build --build-tests)")
        }
        // A write to the pipe of a harness that died must fail, not kill the test runner.
        signal(SIGPIPE, SIG_IGN)
        process.executableURL = executable
        process.arguments = ["daemon", "--socket", socket, "--lock-dir", folder + "/lock", "--answer-timeout-ms", "2000"]
            + arguments
        process.environment = Preload.environment()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
    }

    /// Starts a daemon on `fixtures` (all of them by default) with `bindings`
    /// (`/dev/NODE=BACKEND`) and `extra` options, waits until it is ready, runs `body`, then
    /// stops it and checks that it shut down cleanly.
    static func run(
        fixtures: [String] = Harness.allFixtures, bindings: [String], extra: [String] = [],
        _ body: (DaemonHarness) async throws -> Void
    ) async throws {
        let harness = try DaemonHarness(arguments: bindings.flatMap { ["--bind", $0] } + extra + fixtures)
        do {
            _ = try await harness.next("ready", after: 0)
            try await body(harness)
        } catch {
            _ = await harness.stop()
            throw Harness.Failure(description: "\(error)\nharness log (tail):\n\(harness.stderr.suffix(6000))")
        }
        let stopped = await harness.stop()
        #expect(stopped?.clean == true, "the daemon did not shut down cleanly: \(harness.stderr.suffix(4000))")
        TestSupport.remove(URL(fileURLWithPath: harness.folder))
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Every complete line the harness printed so far.
    var events: [DaemonEvent] {
        let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()  // unfinished (or empty after the last newline)
        return lines.compactMap { try? JSONDecoder().decode(DaemonEvent.self, from: Data($0.utf8)) }
    }

    /// A mark for ``next(_:after:where:)``: events from now on.
    var mark: Int { events.count }

    /// Waits for the first event named `name` at or after position `mark` that satisfies
    /// `predicate`. A `failed` event of the harness, or its exit, fails the wait.
    func next(
        _ name: String, after mark: Int, where predicate: (DaemonEvent) -> Bool = { _ in true }
    ) async throws -> DaemonEvent {
        let deadline = ContinuousClock.now + Self.patience
        while true {
            let recent = events.dropFirst(mark)
            if let found = recent.first(where: { $0.event == name && predicate($0) }) { return found }
            if let failure = recent.first(where: { $0.event == "failed" }) {
                throw Harness.Failure(description: "the harness failed: \(failure.message ?? "?")")
            }
            if !process.isRunning {
                throw Harness.Failure(description: "the harness exited (status \(process.terminationStatus)) while waiting for '\(name)'")
            }
            if ContinuousClock.now >= deadline {
                throw Harness.Failure(description: "no '\(name)' event from the harness within \(Self.patience)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends a command line to the harness; returns the mark to wait for its answer from.
    @discardableResult
    func send(_ command: String) throws -> Int {
        let mark = self.mark
        guard process.isRunning else { throw Harness.Failure(description: "the harness is not running") }
        try input.fileHandleForWriting.write(contentsOf: Data((command + "\n").utf8))
        return mark
    }

    /// Runs the real `rasdial` (not preloaded) against the harness's socket. `RASMAND`
    /// points nowhere, so that a harness that died is not replaced by a real daemon.
    func rasdial(_ arguments: [String]) async throws -> CommandOutput {
        var environment = ProcessInfo.processInfo.environment
        environment["RAS_SOCKET"] = nil
        environment["RASMAND_OPTIONS"] = nil
        environment["RASMAND"] = folder + "/no-rasmand"
        let rasdial = Harness.productsDirectory.appendingPathComponent("rasdial").path
        return try await runCommand(rasdial, ["--socket", socket] + arguments, environment: environment, timeout: Self.patience)
    }

    /// Asks the harness to quit (as rasmand on SIGTERM), waits for it; its `stopped` event.
    func stop() async -> DaemonEvent? {
        let mark = self.mark
        if process.isRunning { try? input.fileHandleForWriting.write(contentsOf: Data("quit\n".utf8)) }
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + Self.patience
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return events.dropFirst(mark).last { $0.event == "stopped" }
    }

    /// Writes a phonebook in the harness's folder; returns its path.
    func phonebook(_ entries: [(name: String, device: String)], number: String = "5551234") throws -> String {
        let path = folder + "/rasphone.pbk"
        let text = entries.map { "[\($0.name)]\nDevice=\($0.device)\nPhoneNumber=\(number)\n" }.joined(separator: "\n")
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}
