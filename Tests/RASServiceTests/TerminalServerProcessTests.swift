import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Modems on terminal servers nobody here wrote: Debian's ser2net (RFC 2217 in front of
/// a fake modem's pty) and pyserial's RFC 2217 server example, dialed by the real
/// rasmand through `Port=rfc2217://…`.
@Suite(.timeLimit(.minutes(3)))
struct TerminalServerProcessTests {
    static let ser2net = "/usr/sbin/ser2net"
    static let pyserialServer = "/usr/share/doc/python3-serial/examples/rfc2217_server.py"

    /// A TCP port free right now on loopback.
    static func freePort() throws -> Int {
        let listener = try TCPListener(host: "127.0.0.1", port: 0)
        defer { listener.close() }
        return listener.port
    }

    /// Whether something listens on loopback TCP `port` (read from /proc/net/tcp, so that
    /// no connection is made to the server just to find out).
    static func listens(on port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let local = String(format: ":%04X", port)
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1].hasSuffix(local) && fields[3] == "0A"
        }
    }

    /// Starts ser2net serving `device` with RFC 2217 on a free loopback port.
    static func startSer2net(_ bench: Bench, device: String) async throws -> (Spawned, Int) {
        #expect(FileManager.default.isExecutableFile(atPath: ser2net), "ser2net is not installed (.ci/run installs it)")
        let port = try freePort()
        let config = bench.folder + "/ser2net.yaml"
        let yaml = """
            connection: &modem
              accepter: telnet(rfc2217),tcp,127.0.0.1,\(port)
              connector: serialdev,\(device),115200n81,local
              options:
                kickolduser: true

            """
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: config))
        let child = try Spawned(URL(fileURLWithPath: ser2net), ["-n", "-c", config, "-P", bench.folder + "/ser2net.pid"],
                                name: "ser2net", folder: bench.folder)
        bench.adopt(child)
        #expect(await TestSupport.eventually(timeout: .seconds(10)) { listens(on: port) }, "ser2net: \(child.stderr)")
        return (child, port)
    }

    /// Dials `Work` on `url`, sends a line through the data path and reads the far end's
    /// echo with socat, hangs up, and checks the RAS rule and the modem's transcript.
    static func dialDataHangUp(_ bench: Bench, url: String, modems: FakeModems, label: String) async throws {
        let phonebook = try bench.phonebook([("Work", url, "5551234")])
        let start = ContinuousClock.now
        let dial = try await bench.rasdial(["Work", "--phonebook", phonebook])
        #expect(dial.status == 0, "\(label) dial: \(dial.stdout) \(dial.stderr)")
        print("\(label): rasdial Work → Connected in \(start.duration(to: .now))")
        let listing = try await bench.rasdial(["--json"])
        let connection = try #require(listing.objects.first { $0["entryName"] as? String == "Work" }, "\(listing.stdout)")
        #expect(connection["deviceName"] as? String == url, "\(connection)")
        let handle = try #require(connection["handle"] as? String)

        let link = bench.folder + "/lines/Work"
        let socat = try await DataPathProcessTests.shell("printf 'over \(label) \\377 done\\n' | socat -t 1 - \(link),raw,echo=0")
        #expect(socat.output == "over \(label) \u{FFFD} done\n" || socat.output.hasPrefix("over \(label) "),
                "\(label) data: \(socat.output)")
        let stats = try await bench.rasdial(["--stats", "Work", "--json"])
        let counts = try #require(stats.objects.first)
        #expect((counts["bytesSent"] as? Int ?? 0) >= 16, "\(counts)")
        #expect(counts["bytesSent"] as? Int == counts["bytesReceived"] as? Int, "\(label): the far end echoed every byte, 0xFF too")

        let mark = modems.events().count
        let hangUp = try await bench.rasdial(["--disconnect", "--handle", handle])
        #expect(hangUp.status == 0, "\(label) hang-up: \(hangUp.stderr)")
        let client = try await bench.client()
        let parsed = try #require(RasConnectionHandle(string: handle))
        #expect(await waitUntilGone(parsed, on: client, timeout: .seconds(2)), "\(label): the handle is gone (ERROR_INVALID_HANDLE)")
        #expect(await TestSupport.eventually(timeout: .seconds(5)) {
            modems.events().dropFirst(mark).contains { $0.hasPrefix("on-hook") }
        }, "\(label): the modem went on-hook: \(modems.events().suffix(8))")
    }

    @Test func ser2netServesAFakeModemThatDialsCarriesDataAndHangsUp() async throws {
        try await Bench.run("ser2net") { bench in
            let modems = try await bench.startFakeModems()
            let (server, port) = try await Self.startSer2net(bench, device: modems.links[0])
            let daemon = try await bench.startDaemon()
            let url = "rfc2217://127.0.0.1:\(port)"
            try await Self.dialDataHangUp(bench, url: url, modems: modems, label: "ser2net")
            // ser2net leaves DTR unanswered in front of a pty: the hang-up went on to +++/ATH
            // at once instead of waiting for a DTR drop.
            #expect(daemon.stderr.contains("does not answer SET-CONTROL"), "the DTR rung was skipped at once")
            #expect(daemon.stderr.contains("report=escape (confirmed)"), "confirmed on-hook by +++/ATH")

            // The server dies in the middle of a call: a hardware failure, 630.
            let phonebook = bench.folder + "/rasphone.pbk"
            let dial = try await bench.rasdial(["Work", "--phonebook", phonebook])
            #expect(dial.status == 0, "\(dial.stderr)")
            server.signal(SIGKILL)
            let client = try await bench.client()
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                (try? await client.enumConnections().first { $0.entryName == "Work" }?.error) == .hardwareFailure
            }, "a vanished terminal server is 630")
        }
    }

    @Test func refusedAndNonRFC2217ServersGiveClearErrors() async throws {
        try await Bench.run("badservers") { bench in
            _ = try await bench.startDaemon()
            // Nothing listens: 633, refused.
            let free = try Self.freePort()
            let refused = try await bench.rasdial(["--device", "rfc2217://127.0.0.1:\(free)", "--phone", "5551234"])
            #expect(refused.status != 0 && refused.stderr.contains("633"), "\(refused.stderr)")
            #expect(refused.stderr.contains("refused"), "\(refused.stderr)")
            // A server that answers with something else (here socat sending a banner): 609.
            let port = try Self.freePort()
            let banner = try Spawned(
                URL(fileURLWithPath: "/usr/bin/socat"),
                ["TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr", "SYSTEM:'printf \"SSH-2.0-OpenSSH_9.2\\r\\n\"; sleep 3'"],
                name: "socat", folder: bench.folder)
            bench.adopt(banner)
            #expect(await TestSupport.eventually(timeout: .seconds(5)) { Self.listens(on: port) })
            let garbage = try await bench.rasdial(["--device", "rfc2217://127.0.0.1:\(port)", "--phone", "5551234"])
            #expect(garbage.status != 0 && garbage.stderr.contains("609"), "\(garbage.stderr)")
            #expect(garbage.stderr.contains("RFC 2217"), "\(garbage.stderr)")
            // A malformed address is refused before anything is dialed.
            let malformed = try await bench.rasdial(["--device", "rfc2217://127.0.0.1:99999", "--phone", "5551234"])
            #expect(malformed.status != 0 && malformed.stderr.contains("65535"), "\(malformed.stderr)")
            // Nothing is left connected.
            let listing = try await bench.rasdial(["--json"])
            #expect(listing.objects.allSatisfy { $0["state"] as? String != "Connected" }, "\(listing.stdout)")
        }
    }

    /// Starts `fakemodem --listen tcp://127.0.0.1:0 [--rfc2217]`; the modems and the URL to dial.
    static func startNetworkFakeModem(_ bench: Bench, rfc2217: Bool, extra: [String] = []) async throws -> (FakeModems, String) {
        let transcript = bench.folder + "/transcript.log"
        var arguments = ["--listen", "tcp://127.0.0.1:0", "--scenario", bench.folder + "/scenario.yaml", "--transcript", transcript]
        if rfc2217 { arguments.append("--rfc2217") }
        let child = try Spawned(try Binaries.url("fakemodem"), arguments + extra, name: "fakemodem", folder: bench.folder)
        bench.adopt(child)
        let ready = try #require(try await child.ready().first)
        let fields = ready.split(separator: " ").map(String.init)
        let url = try #require(fields.last, "ready line: \(ready)")
        #expect(url.hasPrefix(rfc2217 ? "rfc2217://127.0.0.1:" : "tcp://127.0.0.1:"), "ready line: \(ready)")
        return (FakeModems(process: child, links: [], slaves: [fields[0]], transcriptPath: transcript), url)
    }

    @Test func theFakeModemsOwnRFC2217ServerHasRealDTRAndCarrier() async throws {
        try await Bench.run("rfc2217fm") { bench in
            let (modems, url) = try await Self.startNetworkFakeModem(bench, rfc2217: true)
            // rasmand --device with the address: an entry-less dial without --device uses it.
            let daemon = try await bench.startDaemon(extra: ["--device", url])
            try await Self.dialDataHangUp(bench, url: url, modems: modems, label: "fakemodem RFC 2217")
            // The hang-up dropped DTR over RFC 2217 and the modem's DCD confirmed it.
            #expect(daemon.stderr.contains("report=dtr (confirmed)"), "a DTR hang-up: \(daemon.stderr.suffix(2000))")
            #expect(modems.events().contains { $0.hasPrefix("rfc2217 set-control dtr-off") }, "\(modems.events().suffix(12))")

            // The far end hangs up after 300 ms: the carrier is lost, 629.
            let drop = try await bench.rasdial(["--phone", "5550300"])
            #expect(drop.status == 0, "\(drop.stderr)")
            let client = try await bench.client()
            #expect(await TestSupport.eventually(timeout: .seconds(10)) {
                (try? await client.enumConnections().first { $0.entryName == ".5550300" }?.error) == .remoteDisconnection
            }, "a lost carrier over RFC 2217 is 629")
            let connection = try #require(try await client.enumConnections().first { $0.entryName == ".5550300" })
            #expect(connection.deviceName == url)
            try await client.hangUp(connection.handle)
        }
    }

    @Test func aListeningLineAnswersOnATerminalServer() async throws {
        try await Bench.run("rfc2217answer") { bench in
            let (_, url) = try await Self.startNetworkFakeModem(
                bench, rfc2217: true, extra: ["--ring-after", "2", "--caller", "5550100", "--ring-interval", "0.3"])
            _ = try await bench.startDaemon()
            let book = bench.folder + "/lines.pbk"
            try "[Line]\nAnswer=1\nPort=\(url)\n".write(toFile: book, atomically: true, encoding: .utf8)
            let listen = try await bench.rasdial(["Line", "--listen", "--phonebook", book])
            #expect(listen.status == 0, "\(listen.stderr)")
            let client = try await bench.client()
            #expect(await TestSupport.eventually(timeout: .seconds(15)) {
                (try? await client.enumConnections().first { $0.direction == .incoming && $0.state == .connected }) != nil
            }, "the call on the terminal server's modem was answered")
            let incoming = try #require(try await client.enumConnections().first { $0.direction == .incoming })
            #expect(incoming.callerID?.number == "5550100" || incoming.callerID == nil, "\(String(describing: incoming.callerID))")
            try await client.hangUpAndWait(incoming.handle, timeout: .seconds(10))
            let stop = try await bench.rasdial(["Line", "--listen", "--stop"])
            #expect(stop.status == 0, "\(stop.stderr)")
        }
    }

    @Test func pyserialsRFC2217ServerExampleCarriesTheWholeCycle() async throws {
        try await Bench.run("pyserial2217") { bench in
            #expect(FileManager.default.fileExists(atPath: Self.pyserialServer), "python3-serial's examples are missing (.ci/run installs python3-serial)")
            // pyserial's example serves a pyserial port; a pty has no modem lines for it, so it
            // serves the fake modem's own RFC 2217 port: DTR and DCD cross both servers.
            let (modems, upstream) = try await Self.startNetworkFakeModem(bench, rfc2217: true)
            let port = try Self.freePort()
            let server = try Spawned(
                URL(fileURLWithPath: "/usr/bin/python3"), [Self.pyserialServer, "-p", "\(port)", upstream],
                name: "rfc2217_server", folder: bench.folder)
            bench.adopt(server)
            #expect(await TestSupport.eventually(timeout: .seconds(10)) { Self.listens(on: port) }, "pyserial: \(server.stderr)")
            let daemon = try await bench.startDaemon()
            try await Self.dialDataHangUp(bench, url: "rfc2217://127.0.0.1:\(port)", modems: modems, label: "pyserial RFC 2217")
            #expect(daemon.stderr.contains("report=dtr (confirmed)"), "a DTR hang-up through pyserial's server")
            // The example stops only on Ctrl-C (SIGTERM arrives ignored from the test runner).
            server.signal(SIGKILL)
        }
    }

    @Test func rawTCPReachesATelnetModem() async throws {
        try await Bench.run("rawtcp") { bench in
            let (modems, url) = try await Self.startNetworkFakeModem(bench, rfc2217: false)
            let daemon = try await bench.startDaemon()
            try await Self.dialDataHangUp(bench, url: url, modems: modems, label: "raw TCP")
            // No modem lines over raw TCP: +++ and ATH.
            #expect(daemon.stderr.contains("report=escape (confirmed)"), "\(daemon.stderr.suffix(1500))")
        }
    }
}
