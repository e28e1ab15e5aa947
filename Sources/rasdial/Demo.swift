import Foundation
import RAS
import RASService
import Synchronization
import SystemIO

/// `rasdial --demo`: the whole stack with nothing installed or configured. In a new
/// temporary folder it starts a `fakemodem` process on a pty and a private `rasmand` process
/// (its own socket and lock folder, short modem timings), writes a phonebook entry for the
/// fake modem, dials it, lists the connection through a second client connection, hangs it
/// up by name and waits for ERROR_INVALID_HANDLE, shows the modem's transcript, then stops
/// both processes and removes the folder.
struct Demo {
    let output: Output

    /// The entry the demo dials.
    static let entryName = "Demo"
    /// The number it dials (the fake modem's default exchange connects every number).
    static let phoneNumber = "5551234"
    /// rasmand's options: the demo's fake modem only (no discovery of the machine's ports),
    /// short modem timings, so the demo takes a few seconds.
    static let daemonOptions = [
        "--no-discovery",
        "--inter-command-ms", "20", "--dtr-drop-ms", "100",
        "--hangup-confirm-ms", "1000", "--escape-guard-ms", "200", "--abort-dial-ms", "1000",
        "--carrier-poll-ms", "50", "--command-timeout-ms", "2000", "--shutdown-timeout", "10",
    ]

    func run() async throws(RasError) {
        let folder = NSTemporaryDirectory() + "swift-ras-demo-" + UUID().uuidString.prefix(8).lowercased()
        do {
            try FileManager.default.createDirectory(
                atPath: folder + "/lock", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RasError.cannotOpenPhonebook.with(detail: "cannot create \(folder): \(error.localizedDescription)")
        }
        // Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops the demo between steps; the clean-up still runs.
        let signals = TerminationSignals()
        let interruption = Interruption()
        let signalStream = signals.stream
        let watcher = Task {
            for await _ in signalStream {
                interruption.set()
                return
            }
        }
        var children: [Child] = []
        var failure: RasError?
        do throws(RasError) {
            try await steps(in: folder, children: &children, interruption: interruption)
        } catch {
            failure = error
        }
        // Clean up in reverse order: the daemon first (it hangs up what is left), then the modem.
        for child in children.reversed() {
            let status = await child.stop()
            output.text("Stopped \(child.name) (pid \(child.pid)): " + (status.map { "exit status \($0)" } ?? "did not exit"))
            if status != 0, failure == nil {
                failure = RasError.hangupFailed.with(detail: "\(child.name) " + (status.map { "exited with status \($0)" } ?? "did not stop") + "; its log: \(child.stderrTail())")
            }
        }
        try? FileManager.default.removeItem(atPath: folder)
        output.text("Removed \(folder).")
        watcher.cancel()
        signals.stop()
        if let failure { throw failure }
        output.text("Demo completed successfully.")
    }

    private func steps(in folder: String, children: inout [Child], interruption: Interruption) async throws(RasError) {
        let link = folder + "/modem"
        let transcript = folder + "/modem.transcript"
        let socketPath = folder + "/rasmand.sock"
        output.text("swift-ras demo in \(folder)")

        output.text("")
        output.text("== Starting the fake modem: fakemodem --link \(link) --transcript \(transcript)")
        let modem = try Child(
            name: "fakemodem", executable: try locate("fakemodem", override: "FAKEMODEM"),
            arguments: ["--link", link, "--transcript", transcript], folder: folder)
        children.append(modem)
        guard let slave = await modem.waitForReady(unless: interruption) else {
            try interruption.check()
            throw RasError.deviceDoesNotExist.with(detail: "fakemodem did not start: \(modem.stderrTail())")
        }
        output.text("fakemodem (pid \(modem.pid)) serves a modem on \(slave), linked as \(link)")

        output.text("")
        output.text("== Starting rasmand: rasmand --socket \(socketPath) --lock-dir \(folder)/lock …")
        let daemon = try Child(
            name: "rasmand", executable: try locate("rasmand", override: "RASMAND"),
            arguments: ["--socket", socketPath, "--lock-dir", folder + "/lock"] + Self.daemonOptions, folder: folder)
        children.append(daemon)
        guard await daemon.waitForReady(unless: interruption) != nil else {
            try interruption.check()
            throw RasError.connectionManagerUnavailable.with(detail: "rasmand did not start: \(daemon.stderrTail())")
        }
        output.text("rasmand (pid \(daemon.pid)) listens on \(socketPath)")

        let phonebook = folder + "/rasphone.pbk"
        let entry = """
            [\(Self.entryName)]
            MEDIA=serial
            Port=\(link)
            DEVICE=modem
            PhoneNumber=\(Self.phoneNumber)

            """
        do {
            try Data(entry.utf8).write(to: URL(fileURLWithPath: phonebook))
        } catch {
            throw RasError.cannotOpenPhonebook.with(detail: "cannot write \(phonebook): \(error.localizedDescription)")
        }
        output.text("")
        output.text("== Phonebook \(phonebook):")
        entry.split(separator: "\n").forEach { output.text("   \($0)") }

        try interruption.check()
        // A second Ctrl-C must not end rasdial before the clean-up has stopped the processes.
        let actions = Actions(output: output, socketPath: socketPath, secondSignalExits: false)
        let dialer = try await RASClient.connect(socketPath: socketPath)
        output.text("")
        output.text("== rasdial \(Self.entryName) --phonebook \(phonebook)   (client 1)")
        try await actions.dial(.entry(Self.entryName, phonebookPath: phonebook), on: dialer)

        try interruption.check()
        let other = try await RASClient.connect(socketPath: socketPath)
        output.text("")
        output.text("== rasdial   (client 2: a second connection to rasmand lists what client 1 dialed)")
        try await actions.list(on: other)

        output.text("")
        output.text("== rasdial \(Self.entryName) --disconnect   (client 2 hangs up, then waits for ERROR_INVALID_HANDLE)")
        let handles = try await other.hangUp(entryName: Self.entryName)
        try await actions.finishHangUps(handles.map { ($0, Self.entryName) }, client: other)
        for handle in handles {
            do throws(RasError) {
                _ = try await other.connectStatus(handle)
                throw RasError.hangupFailed.with(detail: "connection \(handle) is still there")
            } catch where error == .invalidHandle {
                output.text("Status of \(handle): \(error)")
            }
        }
        await dialer.close()
        await other.close()

        try interruption.check()
        let lines = await Self.transcriptEvents(transcript, waitingFor: " -- on-hook")
        output.text("")
        output.text("== The fake modem's transcript (events):")
        lines.forEach { output.text("   \($0)") }
        output.object(TranscriptRecord(transcript: lines))
        guard lines.contains(where: { $0.contains(" -- on-hook") }) else {
            throw RasError.hangupFailed.with(detail: "the fake modem's transcript shows no on-hook event")
        }
        output.text("")
    }

    private func locate(_ name: String, override variable: String) throws(RasError) -> URL {
        guard let url = Executables.locate(name, override: variable) else {
            throw RasError.deviceDoesNotExist.with(detail: "no \(name) executable ($\(variable), next to rasdial, or on PATH)")
        }
        return url
    }

    /// The event lines (` -- `) of a transcript file, once one contains `marker` (or after 5 s).
    static func transcriptEvents(_ path: String, waitingFor marker: String) async -> [String] {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let events = text.split(separator: "\n").map(String.init).filter { $0.contains(" -- ") }
            if events.contains(where: { $0.contains(marker) }) || ContinuousClock.now >= deadline { return events }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Whether a termination signal asked the demo to stop.
final class Interruption: Sendable {
    private let signalled = Mutex(false)

    func set() { signalled.withLock { $0 = true } }

    var isSet: Bool { signalled.withLock { $0 } }

    /// - Throws: 631 when the demo was interrupted.
    func check() throws(RasError) {
        if isSet { throw RasError.userDisconnection.with(detail: "the demo was interrupted") }
    }
}

/// The transcript as JSON: `{"transcript":["2026-… modem0 -- off-hook",…]}`.
struct TranscriptRecord: Encodable {
    let transcript: [String]
}

/// A process the demo started, with stdout and stderr in files of the demo folder.
final class Child {
    let name: String
    private let process = Process()
    private let stdoutPath: String
    private let stderrPath: String

    init(name: String, executable: URL, arguments: [String], folder: String) throws(RasError) {
        self.name = name
        stdoutPath = folder + "/\(name).out"
        stderrPath = folder + "/\(name).log"
        let files = FileManager.default
        _ = files.createFile(atPath: stdoutPath, contents: nil)
        _ = files.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath) ?? FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: stderrPath) ?? FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw RasError.deviceDoesNotExist.with(detail: "cannot start \(executable.path): \(error.localizedDescription)")
        }
    }

    var pid: Int32 { process.processIdentifier }

    /// Waits for the `ready …` line on stdout and returns what follows `ready `; `nil` if the
    /// process exits, 10 s pass or the demo is interrupted first.
    func waitForReady(unless interruption: Interruption) async -> String? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && !interruption.isSet {
            let text = (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ready ") }) {
                return String(line.dropFirst("ready ".count))
            }
            if !process.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Sends SIGTERM and waits up to 15 s; the exit status, or `nil` if it is still running.
    func stop() async -> Int32? {
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }

    /// The last lines of its stderr, for error messages.
    func stderrTail() -> String {
        let text = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(5).joined(separator: " | ")
    }
}
