import Foundation
import RAS
import SystemIO
import TestSupport
import Testing

/// The data path through the real daemon, used by real programs nobody here wrote: socat,
/// chat and pyserial open the line `rasmand` links under `lines/`, and the fake modem's far
/// end echoes what they send.
@Suite(.timeLimit(.minutes(2)))
struct DataPathProcessTests {
    /// Runs a shell command line; its exit status and output.
    static func shell(_ command: String, timeout: Duration = .seconds(20)) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, output)
    }

    @Test func socatChatAndPyserialUseTheDataPathAndStatsCountThem() async throws {
        try await Bench.run("datapath") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let phonebook = try bench.phonebook([("Work", modems.links[0], "5551234")])
            let dial = try await bench.rasdial(["Work", "--phonebook", phonebook])
            #expect(dial.status == 0, "stderr: \(dial.stderr)")

            let status = try await bench.rasdial(["--status", "Work", "--json"])
            let object = try #require(status.objects.first)
            let dataPath = try #require(object["dataPath"] as? String)
            let link = bench.folder + "/lines/Work"
            #expect(SymbolicLink.target(of: link) == dataPath, "lines/Work names the data path")
            let file = try FileStatus.of(dataPath)
            #expect(file.permissions & 0o777 == 0o600 && file.owner == ProcessIdentity.effectiveUserID)
            let text = try await bench.rasdial(["--status", "Work"])
            #expect(text.stdout.contains("Data path:") && text.stdout.contains(dataPath))

            // socat: what it sends comes back through the far end's echo.
            let socat = try await Self.shell("printf 'hello over socat\\n' | socat -t 1 - \(link),raw,echo=0")
            #expect(socat.status == 0, "socat: \(socat.output)")
            #expect(socat.output == "hello over socat\n")

            // chat, as pppd's connect script would use it: send, expect the echo.
            let chat = try await Self.shell("chat -t 3 -s '' hello-chat hello-chat <\(link) >\(link)")
            #expect(chat.status == 0, "chat exit \(chat.status): \(chat.output)")

            // pyserial (Debian's python3-serial, /usr/bin/python3).
            if FileManager.default.fileExists(atPath: "/usr/lib/python3/dist-packages/serial/__init__.py") {
                let script = """
                    import serial, sys
                    port = serial.Serial('\(link)', 115200, timeout=3)
                    port.write(b'pyserial\\x00\\x11\\x13+++')
                    sys.stdout.write(repr(port.read(14)))
                    """
                let python = try await Self.shell("/usr/bin/python3 -c \"\(script)\"")
                #expect(python.output == "b'pyserial\\x00\\x11\\x13+++'", "pyserial: \(python.output)")
            } else {
                print("skipped pyserial on the data path: python3-serial is not installed (.ci/run installs it)")
            }

            let stats = try await bench.rasdial(["--stats", "Work", "--json"])
            let counts = try #require(stats.objects.first)
            #expect((counts["bytesSent"] as? Int ?? 0) >= 17 + 10)
            #expect(counts["bytesSent"] as? Int == counts["bytesReceived"] as? Int, "the far end echoed every byte")
            #expect(counts["lineErrorsAvailable"] as? Bool == false)
            #expect(counts["framingErrors"] == nil, "a pty counts no framing errors: unknown, not 0")
            #expect(counts["connectRate"] as? Int == 115200)
            let statsText = try await bench.rasdial(["--stats", "Work"])
            #expect(statsText.stdout.contains("Framing errors:") && statsText.stdout.contains("unavailable"))

            let hangUp = try await bench.rasdial(["Work", "--disconnect"])
            #expect(hangUp.status == 0)
            #expect(SymbolicLink.target(of: link) == nil, "the link goes with the connection")
        }
    }
}
