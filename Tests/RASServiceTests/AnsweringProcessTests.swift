import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Listening lines through real processes: `rasmand --answer`, `rasdial --listen`,
/// `--listeners`, `--watch`, and two daemons calling each other through two fake modems.
@Suite(.timeLimit(.minutes(2)), .serialized)
struct AnsweringProcessTests {
    /// Two fake modems that call each other: modem-0 is 5550100, modem-1 is 5550200.
    static let exchange = """
        modem-defaults: {ring-interval: 0.4}
        modems:
          - {number: "5550100"}
          - {number: "5550200"}
        """

    /// The stand-in for pppd of the RAS tests (where the kernel has no PPP).
    static let pppdStandIn = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("RASTests/Fixtures/pppd-stand-in.sh").path

    /// A phonebook with `Out` dialing 5550200 on the first modem and `Line` answering on the second.
    static func outAndLine(_ links: [String]) -> String {
        "[Out]\nPort=\(links[0])\nPhoneNumber=5550200\n\n[Line]\nAnswer=1\nPort=\(links[1])\n"
    }

    static func writeExchange(_ bench: Bench) throws {
        try Data(exchange.utf8).write(to: URL(fileURLWithPath: bench.folder + "/scenario.yaml"))
    }

    /// Polls `rasdial --listeners --json` until the line's state is `state`.
    static func waitForLine(_ bench: Bench, _ state: String, socket: String? = nil) async throws -> [String: Any]? {
        for _ in 0..<500 {
            let listing = try await bench.rasdial(["--listeners", "--json"] + (socket.map { ["--socket", $0] } ?? []))
            if let line = listing.objects.first, line["state"] as? String == state { return line }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test func rasmandAnswersRasdialListsWatchesAndAnotherClientHangsUp() async throws {
        try await Bench.run("answer") { bench in
            try Self.writeExchange(bench)
            let modems = try await bench.startFakeModems(count: 2)
            let book = bench.folder + "/lines.pbk"
            try Self.outAndLine(modems.links).write(toFile: book, atomically: true, encoding: .utf8)
            let daemon = try await bench.startDaemon(extra: ["--answer", "Line", "--answer-phonebook", book])
            let idle = try #require(try await Self.waitForLine(bench, "idle"), "rasmand --answer listens")
            #expect(idle["entryName"] as? String == "Line" && idle["callsTaken"] as? Int == 0)
            let table = try await bench.rasdial(["--listeners"])
            #expect(table.lines.first?.hasPrefix("ENTRY") == true && table.stdout.contains("Line") && table.stdout.contains("idle"))

            let watch = try bench.startRasdial(["--watch", "--json"])
            #expect(await TestSupport.eventually { watch.stdout.contains("\"watching\"") })
            let dial = try await bench.rasdial(["Out", "--phonebook", book])
            #expect(dial.status == 0, "the call is answered: \(dial.stderr)")

            let client = try await bench.client()
            let connections = try await client.enumConnections()
            let incoming = try #require(connections.first { $0.direction == .incoming })
            #expect(incoming.entryName == "Line" && incoming.callerID?.number == "5550100" && incoming.state == .connected)
            #expect(connections.contains { $0.direction == .outgoing && $0.entryName == "Out" })
            let listing = try await bench.rasdial(["--json"])
            #expect(listing.objects.contains { $0["direction"] as? String == "incoming" })
            let status = try await bench.rasdial(["--status", incoming.handle.description])
            #expect(status.stdout.contains("incoming from 5550100"), "\(status.stdout)")

            // The watcher saw the line ring, the caller ID, the answer and the connections.
            #expect(await TestSupport.eventually {
                let events = watch.stdoutLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    .compactMap { $0["event"] as? String }
                return ["ring", "caller-id", "answer", "connected"].allSatisfy(events.contains)
            }, "watch: \(watch.stdout)")
            let callerEvent = watch.stdoutLines.first { $0.contains("\"caller-id\"") } ?? ""
            #expect(callerEvent.contains("5550100"), "\(callerEvent)")

            // Another client hangs the incoming call up: the caller's side loses its carrier.
            let hangUp = try await bench.rasdial(["--disconnect", "--handle", incoming.handle.description])
            #expect(hangUp.status == 0, "\(hangUp.stderr)")
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                (try? await client.enumConnections().first { $0.entryName == "Out" }?.error) == .remoteDisconnection
            }, "the caller's side ends with 629")
            let line = try #require(try await Self.waitForLine(bench, "idle"))
            #expect(line["callsTaken"] as? Int == 1, "\(line)")
            #expect((line["lastCaller"] as? [String: Any])?["number"] as? String == "5550100")

            let stop = try await bench.rasdial(["Line", "--listen", "--stop"])
            #expect(stop.status == 0 && stop.stdout.contains("Stopped listening on Line"), "\(stop.stdout + stop.stderr)")
            let none = try await bench.rasdial(["--listeners"])
            #expect(none.stdout == "No listening lines\n")
            let again = try await bench.rasdial(["Line", "--listen", "--phonebook", book])
            #expect(again.status == 0 && again.stdout.hasPrefix("Listening on Line"), "\(again.stdout + again.stderr)")
            let notAListener = try await bench.rasdial(["Out", "--listen", "--phonebook", book])
            #expect(notAListener.status == 1 && notAListener.stderr.contains("error 87"), "\(notAListener.stderr)")

            _ = try await bench.rasdial(["--disconnect"])
            watch.signal(SIGTERM)
            daemon.signal(SIGTERM)
            #expect(try await daemon.waitForExit() == 0, "\(daemon.stderr)")
            #expect(bench.lockFiles.isEmpty, "no lock left: \(bench.lockFiles)")
            #expect(daemon.stderr.contains("caller ID"), "the caller ID is logged")
        }
    }

    @Test func rasmandRefusesAnAnswerEntryItCannotOpen() async throws {
        try await Bench.run("answer-bad") { bench in
            let book = bench.folder + "/lines.pbk"
            try "[Line]\nAnswer=1\nPort=\(bench.folder)/no-such-modem\n".write(toFile: book, atomically: true, encoding: .utf8)
            let daemon = try Spawned(try Binaries.url("rasmand"), bench.daemonArguments + ["--answer", "Line", "--answer-phonebook", book],
                                     name: "rasmand", folder: bench.folder)
            bench.adopt(daemon)
            #expect(try await daemon.waitForExit(timeout: .seconds(20)) == 1)
            #expect(daemon.stderr.contains("cannot answer on 'Line'") && daemon.stderr.contains("608"), "\(daemon.stderr)")
            #expect(!FileManager.default.fileExists(atPath: bench.socket), "the socket is removed")
        }
    }

    /// One rasmand dials, another (its own socket) answers; data crosses between their data
    /// paths. With `Framing=PPP` each runs pppd (the answering one `passive`): the real pppd
    /// where the kernel has PPP, else the stand-in, and the skip of the real link is printed.
    @Test(arguments: [false, true])
    func twoDaemonsCallEachOther(ppp: Bool) async throws {
        try await Bench.run("two-daemons") { bench in
            try Self.writeExchange(bench)
            let modems = try await bench.startFakeModems(count: 2)
            let realPPP = Self.realPPPMissing == nil
            if ppp && !realPPP {
                print("two-daemon PPP: the real pppd link is skipped: \(Self.realPPPMissing ?? ""); pppd's stand-in runs instead")
            }
            let pppLines = { (report: String) -> String in
                guard ppp else { return "" }
                return realPPP
                    ? "Framing=PPP\nPppdOptions=noauth 10.77.0.1:10.77.0.2\n"
                    : "Framing=PPP\nPppdPath=\(Self.pppdStandIn)\nPppdOptions=report \(report)\n"
            }
            let callerBook = bench.folder + "/caller.pbk"
            try "[Call]\nPort=\(modems.links[0])\nPhoneNumber=5550200\n\(pppLines(bench.folder + "/caller-ppp.txt"))"
                .write(toFile: callerBook, atomically: true, encoding: .utf8)
            let answerBook = bench.folder + "/answer.pbk"
            try "[Gateway]\nAnswer=1\nPort=\(modems.links[1])\nAllowCallers=5550100\n\(pppLines(bench.folder + "/answer-ppp.txt"))"
                .write(toFile: answerBook, atomically: true, encoding: .utf8)

            _ = try await bench.startDaemon(name: "rasmand-caller")
            let answerSocket = bench.folder + "/answer.sock"
            let answerer = try Spawned(
                try Binaries.url("rasmand"),
                ["--socket", answerSocket, "--lock-dir", bench.lockDir, "--log-level", "debug"] + Bench.daemonTimings,
                name: "rasmand-answer", folder: bench.folder)
            bench.adopt(answerer)
            _ = try await answerer.ready()
            let answering = try await RASClient.connect(socketPath: answerSocket)
            let events = try await answering.watch()
            let line = try await answering.listen(RasListenParameters(entryName: "Gateway", phonebookPath: answerBook))
            #expect(line.entryName == "Gateway")

            let caller = try await bench.client()
            let dial = try await caller.dial(.entry("Call", phonebookPath: callerBook))
            let walk = await collectUntilTerminal(dial.notifications)
            #expect(walk.last?.state == .connected, "\(walk)")
            if ppp { #expect(walk.map(\.state).contains(.projected)) }

            // The answering daemon's connection walked the same states, with the caller's ID.
            var incoming: RasConnection?
            for await event in events {
                if case .connection(let change) = event, change.kind == .connected { incoming = change.connection; break }
            }
            let answered = try #require(incoming)
            #expect(answered.direction == .incoming && answered.callerID?.number == "5550100")
            let status = try await answering.connectStatus(answered.handle)
            #expect(status.state == .connected)
            if ppp {
                #expect(status.projection != nil, "PPP projected on the answering side")
                if !realPPP {
                    let report = (try? String(contentsOfFile: bench.folder + "/answer-ppp.txt", encoding: .utf8)) ?? ""
                    #expect(report.contains("echo=LCP-REQ"), "the caller's pppd reached the answering side: \(report)")
                    let log = answerer.stderr
                    #expect(log.contains(" passive"), "the answering pppd runs passive")
                }
            } else {
                // Data crosses: what the caller's program writes, the answerer's program reads.
                let callerPath = try #require(try await caller.connectStatus(dial.handle).dataPath)
                let answerPath = try #require(status.dataPath)
                let received = try await Self.relay("hello from the caller\n", from: callerPath, to: answerPath)
                #expect(received == "hello from the caller\n")
            }
            try await caller.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: caller))
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                (try? await answering.connectStatus(answered.handle).error) == .remoteDisconnection
            }, "the answering side sees the caller hang up: 629")
            _ = try await answering.stopListening(entryName: "Gateway")
            #expect(await TestSupport.eventually { (try? await answering.enumListeners().isEmpty) == true })
        }
    }

    /// Why a real pppd link cannot run here, or `nil`.
    static let realPPPMissing: String? = {
        if access("/dev/ppp", F_OK) != 0 { return "/dev/ppp is missing (the kernel has no PPP: CONFIG_PPP / ppp_generic)" }
        if geteuid() != 0 { return "pppd needs root" }
        if access("/usr/sbin/pppd", X_OK) != 0 { return "pppd is not installed" }
        return nil
    }()

    /// Writes `text` on one data path and reads it back on the other, with socat.
    static func relay(_ text: String, from source: String, to sink: String) async throws -> String {
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        reader.arguments = ["socat", "-u", "-T", "3", "\(sink),raw,echo=0", "STDOUT"]
        let pipe = Pipe()
        reader.standardOutput = pipe
        try reader.run()
        try await Task.sleep(for: .milliseconds(200))
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "printf '\(text.replacingOccurrences(of: "\n", with: "\\n"))' | socat -u STDIN \(source),raw,echo=0"]
        try writer.run()
        writer.waitUntilExit()
        let deadline = ContinuousClock.now + .seconds(10)
        while reader.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if reader.isRunning { reader.terminate() }
        reader.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}
