import FakeModem
import Foundation
import Hayes
import RAS
import Testing
import TestSupport

/// The pppd hand-off. The real link needs `/dev/ppp`, root and network namespaces; where
/// they are missing the mapping is still driven for real by a script that stands in for
/// pppd (same command line, password on stdin, log on stderr, the ip-up hook, exit codes).
@Suite("PPP hand-off")
struct PPPHandOffTests {
    static let standIn = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pppd-stand-in.sh").path

    /// A phonebook with one `Framing=PPP` entry on the lab's modem.
    static func phonebook(in folder: URL, port: String, pppd: String = standIn, options: String) throws -> String {
        let password = folder.appendingPathComponent("password").path
        try "s3cret\n".write(toFile: password, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: password)
        let path = folder.appendingPathComponent("ppp.pbk").path
        try """
            [ISP]
            PhoneNumber=5551234
            Port=\(port)
            Framing=PPP
            PppdPath=\(pppd)
            PppdOptions=\(options)
            User=alice
            PasswordFile=\(password)

            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Processes whose command line contains `marker`.
    static func processes(containing marker: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
    }

    @Test("pppd's progress walks Authenticate, Authenticated, AuthProject, Projected, Connected; the status shows the projection")
    func states() async throws {
        let folder = try TestSupport.temporaryDirectory("ppp")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let report = folder.appendingPathComponent("report").path
        let book = try Self.phonebook(in: folder, port: lab.port(), options: "noauth report \(report)")
        let dial = try await lab.manager.dial(.entry("ISP", phonebookPath: book))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.map(\.state) == [.openPort, .portOpened, .connectDevice, .deviceConnected, .allDevicesConnected,
                                      .authenticate, .authenticated, .authProject, .projected, .connected])
        let status = try await lab.manager.connectStatus(dial.handle)
        #expect(status.projection == RasProjection(interfaceName: "ppp7", localAddress: "10.64.0.2", remoteAddress: "10.64.0.1",
                                                   dnsServers: ["10.64.0.53", "10.64.0.54"]))
        let received = try String(contentsOfFile: report, encoding: .utf8)
        #expect(received == "device=\(status.dataPath ?? "?") speed=115200 user=alice password=s3cret echo=LCP-REQ\n",
                "pppd got the data path, the user, the password on stdin, and its bytes crossed the line")
        #expect(!Self.processes(containing: report).isEmpty, "pppd runs while connected")
        try await lab.hangUpAndWait(dial.handle)
        #expect(await TestSupport.eventually(timeout: .seconds(5)) { Self.processes(containing: report).isEmpty },
                "the hang-up stopped pppd: no child is left")
        await lab.finish()
    }

    @Test("pppd's exit status ends the connection with its RAS error", arguments: [
        (19, UInt32(691)), (11, 691), (16, 629), (15, 638), (10, 732), (4, 720), (2, 87),
    ])
    func exitStatuses(status: Int, code: UInt32) async throws {
        let folder = try TestSupport.temporaryDirectory("ppp-exit")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let book = try Self.phonebook(in: folder, port: lab.port(), options: "exit-with \(status)")
        let dial = try await lab.manager.dial(.entry("ISP", phonebookPath: book))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.last?.state == .disconnected)
        #expect(seen.last?.error?.code == code)
        #expect(seen.last?.error?.detail?.contains("pppd exit status \(status)") == true)
        let after = try await lab.manager.connectStatus(dial.handle)
        #expect(after.error?.code == code)
        #expect(after.dataPath == nil, "the data path is closed with the call")
        try await lab.hangUpAndWait(dial.handle)
        #expect(!lab.bank.modems[0].isOffHook, "the modem was hung up")
        await lab.finish()
    }

    @Test("a pppd that cannot be run ends the dial with 720, and the modem goes on-hook")
    func missingPppd() async throws {
        let folder = try TestSupport.temporaryDirectory("ppp-missing")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let book = try Self.phonebook(in: folder, port: lab.port(), pppd: "/nonexistent/pppd", options: "noauth")
        let dial = try await lab.manager.dial(.entry("ISP", phonebookPath: book))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.last?.error?.code == 720)
        try await lab.hangUpAndWait(dial.handle)
        #expect(!lab.bank.modems[0].isOffHook)
        await lab.finish()
    }

    /// Why the real link cannot run here, or `nil` when it can.
    static let realLinkMissing: String? = {
        if access("/dev/ppp", F_OK) != 0 { return "/dev/ppp is missing (the kernel has no PPP: CONFIG_PPP / ppp_generic)" }
        if geteuid() != 0 { return "pppd and `ip netns` need root" }
        if access("/usr/sbin/pppd", X_OK) != 0 { return "pppd is not installed" }
        if access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0 { return "iproute2 (ip) is not installed" }
        return nil
    }()

    @Test("a real PPP link between two fake modems carries a ping",
          .enabled(if: realLinkMissing == nil, Comment(rawValue: "skipped: \(realLinkMissing ?? "")")))
    func realLink() async throws {
        var modem = ModemLab.modem()
        modem.registers[0] = 1  // B answers on the first ring
        let lab = try await ModemLab(modem: modem, count: 2)
        let folder = try TestSupport.temporaryDirectory("ppp-real")
        defer { TestSupport.remove(folder) }
        let namespace = "swiftras\(getpid())"
        func run(_ arguments: [String]) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try run(["ip", "netns", "add", namespace]) == 0)
        defer { _ = try? run(["ip", "netns", "delete", namespace]) }
        // B's computer: pppd, passive, in its own namespace, waiting for B's CONNECT.
        let answerer = Process()
        answerer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        answerer.arguments = ["ip", "netns", "exec", namespace, "/usr/sbin/pppd", lab.port(1), "115200", "nodetach", "local",
                              "noauth", "passive", "10.77.0.2:10.77.0.1", "connect", "/usr/sbin/chat -t 30 CONNECT ''"]
        try answerer.run()
        defer { answerer.terminate(); answerer.waitUntilExit() }
        try await Task.sleep(for: .milliseconds(500))
        let book = folder.appendingPathComponent("real.pbk").path
        try """
            [Real]
            PhoneNumber=\(lab.bank.modems[1].number)
            Port=\(lab.port(0))
            Framing=PPP
            PppdOptions=noauth nodefaultroute 10.77.0.1:10.77.0.2

            """.write(toFile: book, atomically: true, encoding: .utf8)
        let dial = try await lab.manager.dial(.entry("Real", phonebookPath: book))
        let seen = await ModemLab.collect(dial.notifications)
        #expect(seen.last?.state == .connected)
        let projection = try #require(try await lab.manager.connectStatus(dial.handle).projection)
        #expect(projection.localAddress == "10.77.0.1")
        #expect(projection.remoteAddress == "10.77.0.2")
        let started = ContinuousClock.now
        #expect(try run(["ping", "-c", "3", "-W", "5", "10.77.0.2"]) == 0, "a ping crosses the link")
        print("real PPP link: 3 pings in \(started.duration(to: .now).milliseconds) ms")
        try await lab.hangUpAndWait(dial.handle)
        await lab.finish()
    }
}
