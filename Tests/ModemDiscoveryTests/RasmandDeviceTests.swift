import FakeModem
import Foundation
import RAS
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `rasmand` with `--no-discovery`: it knows only its `--device` ports (no udev,
/// so nothing of the machine is probed), lists them and dials them by name.
@Suite("rasmand --no-discovery and --device")
struct RasmandDeviceTests {
    @Test("rasmand --no-discovery lists only its --device ports, not probed, and an entry's Device= dials one by name")
    func configuredPortsOnly() async throws {
        let folder = try TestSupport.temporaryDirectory("rasmand-devices")
        defer { TestSupport.remove(folder) }
        let lockDirectory = folder.appendingPathComponent("lock").path
        try FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        let bank = try FakeModemBank(count: 1)
        try await bank.start()
        let link = folder.appendingPathComponent("office-modem").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: bank.modems[0].slavePath)
        let socket = folder.appendingPathComponent("rasmand.sock").path
        let output = folder.appendingPathComponent("rasmand.out").path
        let errors = folder.appendingPathComponent("rasmand.err").path
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        _ = FileManager.default.createFile(atPath: errors, contents: nil)

        let daemon = Process()
        daemon.executableURL = Harness.productsDirectory.appendingPathComponent("rasmand")
        daemon.arguments = [
            "--socket", socket, "--lock-dir", lockDirectory, "--no-discovery", "--device", link, "--device", "/dev/ttyS9",
            "--inter-command-ms", "20", "--dtr-drop-ms", "100", "--hangup-confirm-ms", "600",
            "--escape-guard-ms", "250",
        ]
        daemon.standardInput = FileHandle.nullDevice
        daemon.standardOutput = FileHandle(forWritingAtPath: output)
        daemon.standardError = FileHandle(forWritingAtPath: errors)
        try daemon.run()
        defer {
            if daemon.isRunning {
                kill(daemon.processIdentifier, SIGKILL)
                daemon.waitUntilExit()
            }
        }
        let ready = await TestSupport.eventually(timeout: .seconds(30)) {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").hasPrefix("ready ") || !daemon.isRunning
        }
        try #require(ready && daemon.isRunning, "rasmand did not start: \((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")

        func rasdial(_ arguments: [String]) async throws -> CommandOutput {
            var environment = ProcessInfo.processInfo.environment
            environment["RAS_SOCKET"] = nil
            environment["RASMAND"] = folder.appendingPathComponent("no-rasmand").path
            return try await runCommand(
                Harness.productsDirectory.appendingPathComponent("rasdial").path, ["--socket", socket] + arguments,
                environment: environment, timeout: .seconds(60))
        }

        let listing = try await rasdial(["--devices", "--json"])
        #expect(listing.status == 0, "\(listing.stderr)")
        let devices = try JSONDecoder().decode([RasDevice].self, from: Data(listing.stdout.utf8))
        #expect(devices.map(\.deviceName) == ["office-modem", "ttyS9"])
        #expect(devices.map(\.path) == [link, "/dev/ttyS9"])
        #expect(devices.allSatisfy { $0.probe == .notProbed && !$0.probed && $0.detail?.contains("--device") == true })

        let phonebook = folder.appendingPathComponent("rasphone.pbk").path
        try Data("[Office]\nDevice=office-modem\nPhoneNumber=5551234\n".utf8).write(to: URL(fileURLWithPath: phonebook))
        let dial = try await rasdial(["Office", "--phonebook", phonebook])
        #expect(dial.status == 0, "\(dial.stdout)\(dial.stderr)")
        #expect(bank.modems[0].events.contains { $0.hasPrefix("dial 5551234") })
        let hangUp = try await rasdial(["Office", "--disconnect"])
        #expect(hangUp.status == 0, "\(hangUp.stdout)\(hangUp.stderr)")

        kill(daemon.processIdentifier, SIGTERM)
        let exited = await TestSupport.eventually(timeout: .seconds(30)) { !daemon.isRunning }
        #expect(exited && daemon.terminationStatus == 0)
        let log = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(log.contains("discovery=false") && !log.contains("modem discovery"))
        await bank.stop()
    }
}
