import FakeModem
import Foundation
import Glibc
import Serial
import Testing

/// Incoming calls, caller ID, the power-on termios and pacing, over real ptys.
@Suite("Incoming calls and a real port's behaviour, over ptys")
struct RingTests {
    @Test("A scenario call rings with caller ID between RING 1 and 2; ATA connects; the caller hangs up: NO CARRIER")
    func scenarioCall() async throws {
        let yaml = """
            modems:
              - name: home
                ring-interval: 0.4
                profile: "+VCID=1"
                calls:
                  - {after: 0.5, caller: "5551234", name: "JOHN DOE", connect: "CONNECT 28800", hang-up-after: 0.3}
            """
        try await withBank(try scenario(yaml)) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0")
            try await client.read(until: "RING\r\n")
            let between = try await client.read(until: "RING\r\n")
            #expect(between.hasPrefix("\r\nDATE = "), "\(between)")
            #expect(between.contains("\r\n\r\nTIME = "), "\(between)")
            #expect(between.hasSuffix("\r\n\r\nNMBR = 5551234\r\n\r\nNAME = JOHN DOE\r\n\r\nRING\r\n"), "\(between)")
            #expect(try await client.command("ATA", expect: "CONNECT 28800\r\n") == "\r\nCONNECT 28800\r\n")
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            let events = modem.events
            for expected in ["incoming 5551234", "ring 1", "caller-id formatted 5551234", "ring 2", "answer", "connect CONNECT 28800",
                             "caller-hang-up", "on-hook remote"] {
                #expect(events.contains(expected), "\(expected) in \(events)")
            }
        }
    }

    @Test("Two fake modems: the called one shows the caller's number in its caller ID format",
          arguments: [("AT+VCID=1", "\r\nNMBR = 5550100\r\n"), ("AT+CLIP=1", "\r\n+CLIP: \"5550100\",129\r\n"), ("AT#CID=2", "MESG = 80")])
    func peerCallerID(command: String, expected: String) async throws {
        let yaml = """
            modem-defaults: {ring-interval: 0.4}
            modems:
              - {name: alice, number: "5550100"}
              - {name: bob, number: "5550200"}
            """
        try await withBank(try scenario(yaml)) { bank in
            let alice = try ModemClient(bank.modems[0])
            let bob = try ModemClient(bank.modems[1])
            try await bob.command("ATE0")
            try await bob.command(command)
            try await alice.send("ATD5550200\r")
            let first = try await bob.read(until: "RING\r\n")
            let second = try await bob.read(until: "RING\r\n")
            #expect((first + second).contains(expected), "\(first + second)")
            #expect(bank.modems[1].events.contains { $0.hasPrefix("caller-id ") && $0.hasSuffix(" 5550100") })
            try await bob.command("ATA", expect: "CONNECT 33600\r\n")
            try await alice.read(until: "CONNECT 33600\r\n")
        }
    }

    @Test("The slave starts as a serial port at power-on: B9600 CS8 CREAD HUPCL CLOCAL")
    func powerOnTermios() async throws {
        try await withBank { bank in
            let fd = open(bank.modems[0].slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
            try #require(fd >= 0)
            defer { close(fd) }
            var t = termios()
            try #require(tcgetattr(fd, &t) == 0)
            #expect(cfgetospeed(&t) == speed_t(B9600))
            for (flag, name) in [(CS8, "CS8"), (CREAD, "CREAD"), (HUPCL, "HUPCL"), (CLOCAL, "CLOCAL")] {
                #expect(t.c_cflag & tcflag_t(flag) == tcflag_t(flag), "\(name)")
            }
            #expect(t.c_cflag & tcflag_t(CRTSCTS) == 0)
        }
    }

    @Test("A program that opens the port as it is and closes it mid-call hangs the modem up")
    func closeMidCall() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let mark = modem.transcriptMark
            let fd = open(modem.slavePath, O_RDWR | O_NOCTTY | O_CLOEXEC)
            try #require(fd >= 0)
            let command = Array("ATD5551234\r".utf8)
            #expect(write(fd, command, command.count) == command.count)
            await modem.expectEvent("connect CONNECT", after: mark)
            close(fd)
            await modem.expectEvent("slave-closed hupcl=yes", after: mark)
            await modem.expectEvent("on-hook dtr", after: mark)
            #expect(await eventually { !modem.isOffHook })
        }
    }

    @Test("pace: online data comes at the CONNECT rate (960 bytes at 9600 take about a second)")
    func pace() async throws {
        let yaml = """
            modem-defaults: {pace: true}
            numbers:
              - {number: "9600", connect: CONNECT 9600, delay: 0.05}
            """
        try await withBank(try scenario(yaml)) { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            try await client.command("ATD9600", expect: "CONNECT 9600\r\n")
            let data = [UInt8](repeating: UInt8(ascii: "x"), count: 959) + [UInt8(ascii: "!")]
            let start = ContinuousClock.now
            try await client.send(bytes: data)
            let echoed = try await client.readBytes(until: [UInt8(ascii: "!")], timeout: .seconds(10))
            let elapsed = ContinuousClock.now - start
            #expect(echoed == data)
            // 960 bytes at 960 bytes per second: about 1 s; unpaced it takes a few ms.
            #expect(elapsed >= .milliseconds(600), "\(elapsed)")
        }
    }

    @Test("Scenario calls: bad values name their key")
    func badCalls() throws {
        for (yaml, key) in [
            ("modems:\n  - calls:\n      - {caller: \"123\"}\n", "modems[0].calls[0]"),
            ("modems:\n  - calls:\n      - {after: 1, caller-id: fancy}\n", "modems[0].calls[0].caller-id"),
            ("modems:\n  - calls:\n      - {after: 1, caller: \"55-12\"}\n", "modems[0].calls[0].caller"),
            ("modems:\n  - calls:\n      - {after: 1, rings: 0}\n", "modems[0].calls[0].rings"),
        ] {
            #expect(throws: ScenarioError.self) { try scenario(yaml) }
            do {
                _ = try scenario(yaml)
            } catch {
                #expect(error.key == key, "\(error)")
            }
        }
        let good = try scenario("modems:\n  - calls:\n      - {after: 2, caller: private, caller-id: mdmf, wrong-checksum: true, rings: 4}\n")
        let call = try #require(good.modems.first?.calls.first)
        #expect(call.caller == CallerID(number: .private, form: .mdmf, wrongChecksum: true))
        #expect(call.after == .seconds(2))
        #expect(call.rings == 4)
    }

    @Test("incoming.yaml: three outside calls on one modem with caller ID on")
    func incomingFixture() throws {
        let incoming = try fixture("incoming.yaml")
        let calls = try #require(incoming.modems.first?.calls)
        #expect(calls.map(\.caller.number) == [.number("5551234"), .private, .number("5559876")])
        #expect(calls.map(\.rings) == [10, 4, 3])
        #expect(calls[0].hangUpAfter == .seconds(5))
        #expect(calls[2].caller.wrongChecksum && calls[2].caller.form == .mdmf)
        #expect(incoming.modems.first?.profile == "+VCID=1")
    }

    @Test("fakemodem --ring-after --caller --caller-id-format --caller-name --caller-hangs-up-after --ring-interval")
    func commandLineCall() async throws {
        let child = try Child(try BuiltExecutable.fakemodem(), [
            "--ring-after", "1", "--ring-interval", "0.4", "--caller", "5551234", "--caller-id-format", "mdmf",
            "--caller-name", "JOHN DOE", "--caller-hangs-up-after", "0.3",
        ])
        let lines = await child.lines(1)
        let ready = try #require(lines.first, "no ready line; stderr: \(child.standardError)")
        let client = try ModemClient(String(ready.dropFirst("ready ".count)))
        try await client.command("ATE0")
        try await client.command("AT#CID=1")
        try await client.read(until: "RING\r\n")
        let between = try await client.read(until: "RING\r\n")
        let bytes = try #require(CallerIDTests.message(in: between), "\(between)")
        #expect(bytes.first == 0x80)
        #expect(bytes.reduce(UInt8(0)) { $0 &+ $1 } == 0)
        try await client.command("ATA", expect: "CONNECT 33600\r\n")
        try await client.read(until: "NO CARRIER\r\n")
        client.close()
        child.process.terminate()
        #expect(await child.exitStatus() == 0)

        let refused = try Child(try BuiltExecutable.fakemodem(), ["--caller", "5551234"])
        #expect(await refused.exitStatus() != 0)
        #expect(refused.standardError.contains("--ring-after"), "\(refused.standardError)")
    }
}
