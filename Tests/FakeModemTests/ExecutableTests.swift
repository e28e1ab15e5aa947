import FakeModem
import Foundation
import Synchronization
import Testing
import TestSupport

/// The built `fakemodem` executable.
///
/// SwiftPM puts every product of a build in one folder (`.build/<triple>/<config>/`), and
/// the test bundle runs from there too, so the executable is the file `fakemodem` next to
/// the running test executable (`/proc/self/exe`). `swift test` builds it with the tests.
enum BuiltExecutable {
    static func fakemodem() throws -> URL {
        let testExecutable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let url = URL(fileURLWithPath: testExecutable).deletingLastPathComponent().appendingPathComponent("fakemodem")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw MissingExecutable(path: url.path)
        }
        return url
    }

    struct MissingExecutable: Error, CustomStringConvertible {
        let path: String
        var description: String { "the fakemodem executable is not at \(path): build it first (swift build)" }
    }
}

/// Bytes collected from a pipe.
final class ByteSink: Sendable {
    private let bytes = Mutex<[UInt8]>([])
    func append(_ data: Data) { bytes.withLock { $0 += data } }
    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

/// A child process whose output is collected as it arrives.
final class Child: Sendable {
    let process: Process
    private let output = ByteSink()
    private let errors = ByteSink()

    init(_ executable: URL, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        out.fileHandleForReading.readabilityHandler = { [output] handle in output.append(handle.availableData) }
        err.fileHandleForReading.readabilityHandler = { [errors] handle in errors.append(handle.availableData) }
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    var standardOutput: String { output.text }
    var standardError: String { errors.text }

    /// The first `count` lines of standard output, once they are there.
    func lines(_ count: Int, timeout: Duration = .seconds(10)) async -> [String] {
        _ = await eventually(timeout: timeout) { self.standardOutput.filter { $0 == "\n" }.count >= count || !self.process.isRunning }
        return Array(standardOutput.split(separator: "\n").prefix(count).map(String.init))
    }

    /// Waits for the process to end; its exit status, or `nil` if it is still running.
    func exitStatus(timeout: Duration = .seconds(10)) async -> Int32? {
        guard await eventually(timeout: timeout, { !self.process.isRunning }) else { return nil }
        // Let the pipe handlers pick up the last bytes.
        try? await Task.sleep(for: .milliseconds(50))
        return process.terminationStatus
    }
}

@Suite("The fakemodem executable")
struct ExecutableTests {
    @Test("ready line, link to the slave, serves AT, SIGTERM removes the link and exits 0")
    func readyAndLink() async throws {
        let folder = try TestSupport.temporaryDirectory("fakemodem")
        defer { TestSupport.remove(folder) }
        let link = folder.appendingPathComponent("modem").path
        let log = folder.appendingPathComponent("modem.log").path
        let child = try Child(try BuiltExecutable.fakemodem(), ["--link", link, "--transcript", log])
        let lines = await child.lines(1)
        let ready = try #require(lines.first, "no ready line; stderr: \(child.standardError)")
        #expect(ready.hasPrefix("ready /dev/pts/"))
        let slave = String(ready.dropFirst("ready ".count))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == slave)

        let client = try ModemClient(link)
        #expect(try await client.command("ATI3") == "ATI3\r\r\nFakeModem V1.0\r\n\r\nOK\r\n")
        #expect(try await client.command("ATD1234", expect: "CONNECT 115200\r\n") == "ATD1234\r\r\nCONNECT 115200\r\n")
        client.close()

        child.process.terminate()
        #expect(await child.exitStatus() == 0)
        #expect(child.process.terminationReason == .exit)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link)) == nil, "the link is still there")
        let transcript = try String(contentsOfFile: log, encoding: .utf8)
        #expect(transcript.contains(" modem0 -- dial 1234\n"))
        #expect(transcript.hasSuffix(" modem0 -- power-off\n"))
    }

    @Test("--count 2: one ready line per modem, PATH-0 and PATH-1, on one exchange; SIGINT ends it")
    func severalModems() async throws {
        let folder = try TestSupport.temporaryDirectory("fakemodem")
        defer { TestSupport.remove(folder) }
        let link = folder.appendingPathComponent("m").path
        let child = try Child(try BuiltExecutable.fakemodem(), ["--link", link, "--count", "2"])
        let lines = await child.lines(2)
        #expect(lines.count == 2, "stdout: \(child.standardOutput) stderr: \(child.standardError)")
        for (index, line) in lines.enumerated() {
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(link)-\(index)") == String(line.dropFirst("ready ".count)))
        }
        let caller = try ModemClient("\(link)-0")
        let callee = try ModemClient("\(link)-1")
        try await callee.command("ATE0")
        try await caller.send("ATD1001\r")
        #expect(try await callee.read(until: "RING\r\n") == "\r\nRING\r\n")
        child.process.interrupt()
        #expect(await child.exitStatus() == 0)
        for index in 0..<2 {
            #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(link)-\(index)")) == nil)
        }
    }

    @Test("A bad scenario: exit status 2, the file, line and key on stderr, no ready line")
    func badScenario() async throws {
        let broken = scenariosFolder.appendingPathComponent("broken.yaml").path
        let child = try Child(try BuiltExecutable.fakemodem(), ["--scenario", broken])
        #expect(await child.exitStatus() == 2)
        #expect(child.standardError.contains("broken.yaml:7:12: key 'numbers[0].delay': expected seconds"), "\(child.standardError)")
        #expect(child.standardOutput.isEmpty)
    }

    @Test("A path that is not a symlink is not replaced")
    func refusesToReplaceFile() async throws {
        let folder = try TestSupport.temporaryDirectory("fakemodem")
        defer { TestSupport.remove(folder) }
        let path = folder.appendingPathComponent("precious").path
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: path))
        let child = try Child(try BuiltExecutable.fakemodem(), ["--link", path])
        #expect(await child.exitStatus() == 2)
        #expect(child.standardError.contains("not a symlink"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "keep me")
    }

    @Test("Fault flags apply to every modem of the scenario")
    func faultFlags() async throws {
        let rich = scenariosFolder.appendingPathComponent("rich.yaml").path
        let child = try Child(try BuiltExecutable.fakemodem(), ["--scenario", rich, "--duplicate-results", "--omit-leading-crlf"])
        let lines = await child.lines(2)
        #expect(lines.count == 2, "stderr: \(child.standardError)")
        for line in lines {
            let client = try ModemClient(String(line.dropFirst("ready ".count)))
            #expect(try await client.command("ATE0") == "ATE0\rOK\r\n")
            try await client.read(until: "OK\r\n")
            try await client.send("ATD5550000\r")
            #expect(try await client.read(until: "BUSY\r\nBUSY\r\n") == "BUSY\r\nBUSY\r\n")
        }
        child.process.terminate()
        #expect(await child.exitStatus() == 0)
    }
}

@Suite("A real peer: ppp's chat")
struct ChatTests {
    static let chat = "/usr/sbin/chat"

    /// Runs chat with stdin and stdout on `slave`; returns its exit status and stderr.
    private func runChat(on slave: String, _ script: [String]) async throws -> (Int32?, String) {
        let shell = URL(fileURLWithPath: "/bin/sh")
        let child = try Child(shell, ["-c", "slave=$1; shift; exec \"$@\" <>\"$slave\" >&0", "sh", slave, ChatTests.chat] + script)
        return (await child.exitStatus(timeout: .seconds(20)), child.standardError)
    }

    @Test("chat dials and sees CONNECT: exit 0",
          .enabled(if: FileManager.default.isExecutableFile(atPath: ChatTests.chat), "skipped: /usr/sbin/chat is not installed (apt-get install ppp)"))
    func chatConnects() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let (status, log) = try await runChat(on: bank.modems[0].slavePath,
                                                  ["-V", "-s", "ABORT", "BUSY", "", "AT", "OK", "ATDT5551234", "CONNECT"])
            #expect(status == 0, "chat said: \(log)")
            #expect(bank.modems[0].events.contains("connect CONNECT 33600/ARQ/V42BIS"))
        }
    }

    @Test("chat dials a busy number: ABORT BUSY, exit 4",
          .enabled(if: FileManager.default.isExecutableFile(atPath: ChatTests.chat), "skipped: /usr/sbin/chat is not installed (apt-get install ppp)"))
    func chatBusy() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let (status, log) = try await runChat(on: bank.modems[0].slavePath,
                                                  ["-V", "-s", "ABORT", "BUSY", "", "AT", "OK", "ATDT5550000", "CONNECT"])
            #expect(status == 4, "chat said: \(log)")
            #expect(bank.modems[0].events.contains("on-hook busy"))
        }
    }
}
