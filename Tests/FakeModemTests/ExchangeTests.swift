import FakeModem
import Foundation
import Serial
import Testing

/// Every outcome of the exchange in `Fixtures/scenarios/rich.yaml`.
@Suite("Phone exchange outcomes")
struct ExchangeTests {
    /// Dials `number` on modem 0 of a rich-scenario bank with `setup` commands first, and
    /// returns what the modem answered up to `expect`.
    private func dial(_ number: String, setup: String = "AT", expect: String) async throws -> (String, [String]) {
        try await withBank(try fixture("rich.yaml")) { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            try await client.command(setup, expect: setup.contains("V0") ? "0\r" : "OK\r\n")
            let answer = try await client.command("ATD\(number)", expect: expect)
            try await Task.sleep(for: .milliseconds(20))
            return (answer, bank.modems[0].events)
        }
    }

    @Test("CONNECT with intermediate lines, in order")
    func connectWithIntermediates() async throws {
        let (answer, events) = try await dial("5551234", expect: "CONNECT 33600/ARQ/V42BIS\r\n")
        #expect(answer == "\r\nCARRIER 33600\r\n\r\nPROTOCOL: LAPM\r\n\r\nCOMPRESSION: V42BIS\r\n\r\nCONNECT 33600/ARQ/V42BIS\r\n")
        #expect(events.contains("connect CONNECT 33600/ARQ/V42BIS"))
        #expect(events.contains("progress PROTOCOL: LAPM"))
    }

    @Test("V0: the connect string's own number; intermediate lines only where they have one")
    func connectNumeric() async throws {
        let (answer, _) = try await dial("5551234", setup: "ATV0", expect: "35\r")
        #expect(answer == "77\r35\r")
        let (rate, _) = try await dial("5552400", setup: "ATV0", expect: "10\r")
        #expect(rate == "10\r")
    }

    @Test("X0 reports plain CONNECT (1)")
    func connectX0() async throws {
        let (answer, events) = try await dial("5552400", setup: "ATX0", expect: "CONNECT\r\n")
        #expect(answer == "\r\nCONNECT\r\n")
        #expect(events.contains("connect CONNECT"))
    }

    @Test("Failures: BUSY, NO ANSWER, NO DIALTONE, NO CARRIER, ERROR, vendor words")
    func failures() async throws {
        let cases = [("5550000", "BUSY"), ("5550001", "NO ANSWER"), ("5550002", "NO DIALTONE"), ("5550003", "NO CARRIER"),
                     ("5550004", "ERROR"), ("5550005", "DELAYED"), ("5550006", "VOICE"), ("5551999", "BUSY"), ("4242", "NO CARRIER")]
        try await withBank(try fixture("rich.yaml")) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0")
            for (number, result) in cases {
                let mark = modem.transcriptMark
                #expect(try await client.command("ATD\(number)", expect: "\r\n") == "\r\n")
                #expect(try await client.read(until: "\r\n") == "\(result)\r\n", "\(number)")
                #expect(!modem.isOffHook)
                #expect(modem.events(after: mark).contains("on-hook \(result.lowercased().replacingOccurrences(of: " ", with: "-"))"))
            }
        }
    }

    @Test("Failures in V0 and at lower X levels")
    func failureLevels() async throws {
        let cases = [("ATV0", "5550000", "7\r"), ("ATV0", "5550001", "8\r"), ("ATV0", "5550002", "6\r"),
                     ("ATV0", "5550005", "24\r"), ("ATV0", "5550006", "12\r"),
                     ("ATX0", "5550000", "\r\nNO CARRIER\r\n"), ("ATX0", "5550001", "\r\nNO CARRIER\r\n"),
                     ("ATX1", "5550002", "\r\nNO CARRIER\r\n"), ("ATX2", "5550002", "\r\nNO DIALTONE\r\n"),
                     ("ATX2", "5550000", "\r\nNO CARRIER\r\n"), ("ATX3", "5550000", "\r\nBUSY\r\n"),
                     ("ATX3", "5550002", "\r\nNO CARRIER\r\n"), ("ATX3", "5550005", "\r\nERROR\r\n")]
        try await withBank(try fixture("rich.yaml")) { bank in
            let client = try ModemClient(bank.modems[0])
            for (setup, number, expected) in cases {
                try await client.command("ATZ")
                try await client.command("ATE0")
                try await client.command(setup, expect: setup.contains("V0") ? "0\r" : "OK\r\n")
                #expect(try await client.command("ATD\(number)", expect: expected) == expected, "\(setup) \(number)")
            }
        }
    }

    @Test("A banner after CONNECT; a silent far end swallows data")
    func banner() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            try await client.command("ATD5550115", expect: "CONNECT 115200\r\n")
            #expect(try await client.read(until: "login: ") == "\r\nWelcome to the fake BBS\r\nlogin: ")
            try await client.send("guest\r")
            #expect(try await client.drain(for: .milliseconds(200)) == "")
        }
    }

    @Test("Patterns and the otherwise outcome")
    func patterns() async throws {
        let (answer, events) = try await dial("18005551234", expect: "CONNECT 57600\r\n")
        #expect(answer == "\r\nCONNECT 57600\r\n")
        #expect(events.contains("dial 18005551234"))
    }

    @Test("Silence: nothing is reported; a byte aborts it, so does a DTR drop")
    func silence() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S7=1")
            try await client.send("ATD5550009\r")
            // Well past S7: still nothing, still off-hook.
            #expect(try await client.drain(for: .milliseconds(1300)) == "")
            #expect(modem.mode == .dialing)
            try await client.send("x")
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(modem.events.contains("on-hook abort"))

            try await client.send("ATD5550009\r")
            #expect(await eventually { modem.mode == .dialing })
            try await client.port.dropDTR(for: .milliseconds(150))
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(modem.events.contains("on-hook dtr"))
            #expect(!modem.isOffHook)
        }
    }

    @Test("Carrier drop after N s: NO CARRIER after S10, back in command mode")
    func carrierDrop() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S10=2")
            let dialed = ContinuousClock.now
            try await client.command("ATD5550010", expect: "CONNECT 9600\r\n")
            try await client.send("ping")
            #expect(try await client.read(until: "ping") == "ping")
            #expect(try await client.read(until: "NO CARRIER\r\n", timeout: .seconds(3)) == "\r\nNO CARRIER\r\n")
            // delay 0.05 s + drop-after 0.4 s + S10 0.2 s, all after the ATD arrived.
            #expect(ContinuousClock.now - dialed >= .milliseconds(650))
            #expect(!modem.isOffHook)
            let events = modem.events
            #expect(events.contains("carrier-lost"))
            #expect(events.contains("on-hook carrier-lost"))
            #expect(try await client.command("AT") == "\r\nOK\r\n")
        }
    }

    @Test("Unplug after N s: the port hangs up")
    func unplugAfter() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0")
            try await client.command("ATD5550011", expect: "CONNECT 9600\r\n")
            do {
                _ = try await client.drain(for: .seconds(3))
                Issue.record("the port did not hang up")
            } catch let error as SerialError {
                #expect(error == .hangUp(path: modem.slavePath))
            }
            #expect(modem.mode == .unplugged)
            #expect(modem.events.contains("unplug"))
        }
    }

    @Test("Ring another modem: RING repeats, ATA answers, data flows both ways, ATH ends it for both")
    func ringAndAnswer() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let (caller, answerer) = (bank.modems[0], bank.modems[1])
            let callerPort = try ModemClient(caller)
            let answererPort = try ModemClient(answerer)
            try await callerPort.command("ATE0S12=5")
            try await answererPort.command("ATE0S12=5")
            try await callerPort.send("ATD5550020\r")
            #expect(try await answererPort.read(until: "RING\r\n") == "\r\nRING\r\n")
            #expect(try await answererPort.read(until: "RING\r\n") == "\r\nRING\r\n")
            #expect(answerer.status.isRinging)
            #expect(try await answererPort.command("ATA", expect: "CONNECT 28800\r\n") == "\r\nCONNECT 28800\r\n")
            #expect(try await callerPort.read(until: "CONNECT 28800\r\n") == "\r\nCONNECT 28800\r\n")
            try await callerPort.send("hello bob")
            #expect(try await answererPort.read(until: "hello bob") == "hello bob")
            try await answererPort.send("hi alice")
            #expect(try await callerPort.read(until: "hi alice") == "hi alice")
            #expect(answerer.events.contains("answer"))
            #expect(answerer.events.filter { $0.hasPrefix("ring ") }.count >= 2)

            try await callerPort.hangUpByEscape()
            // The answerer saw the caller's +++ as data, then loses the carrier.
            #expect(try await answererPort.read(until: "NO CARRIER\r\n", timeout: .seconds(3)) == "+++\r\nNO CARRIER\r\n")
            #expect(!caller.isOffHook)
            #expect(!answerer.isOffHook)
            #expect(answerer.events.contains("on-hook remote"))
        }
    }

    @Test("S0 auto-answer after S0 rings")
    func autoAnswer() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let callerPort = try ModemClient(bank.modems[0])
            let answererPort = try ModemClient(bank.modems[1])
            try await callerPort.command("ATE0")
            try await answererPort.command("ATE0S0=2")
            try await callerPort.send("ATD1001\r")
            let seen = try await answererPort.read(until: "CONNECT 33600\r\n")
            #expect(seen == "\r\nRING\r\n\r\nRING\r\n\r\nCONNECT 33600\r\n")
            #expect(try await callerPort.read(until: "CONNECT 33600\r\n") == "\r\nCONNECT 33600\r\n")
            #expect(bank.modems[1].events.contains("answer auto"))
            #expect(bank.modems[1].status.registers[1] == 2)
        }
    }

    @Test("Nobody answers: NO ANSWER after the caller's S7; the callee stops ringing")
    func noAnswer() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let callerPort = try ModemClient(bank.modems[0])
            try await callerPort.command("ATE0S7=1")
            #expect(try await callerPort.command("ATD5550020", expect: "NO ANSWER\r\n", timeout: .seconds(3)) == "\r\nNO ANSWER\r\n")
            #expect(await eventually { !bank.modems[1].status.isRinging })
            #expect(bank.modems[1].events.contains("ring-stop"))
        }
    }

    @Test("BUSY when the callee is off-hook or in a call")
    func busyCallee() async throws {
        try await withBank(try fixture("rich.yaml"), count: 3) { bank in
            let caller = try ModemClient(bank.modems[0])
            let answerer = try ModemClient(bank.modems[1])
            let third = try ModemClient(bank.modems[2])
            try await caller.command("ATE0")
            try await answerer.command("ATE0H1")
            #expect(try await caller.command("ATD5550020", expect: "BUSY\r\n") == "\r\nBUSY\r\n")
            try await answerer.command("ATH0S0=1")
            try await caller.command("ATD1001", expect: "CONNECT 33600\r\n")
            try await third.command("ATE0")
            #expect(try await third.command("ATD1001", expect: "BUSY\r\n") == "\r\nBUSY\r\n")
            #expect(try await third.command("ATD1000", expect: "BUSY\r\n") == "\r\nBUSY\r\n")
            #expect(try await third.command("ATD1002", expect: "BUSY\r\n") == "\r\nBUSY\r\n")
        }
    }

    @Test("An echoing callee returns the caller's data")
    func echoPeer() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let caller = try ModemClient(bank.modems[0])
            let answerer = try ModemClient(bank.modems[1])
            try await caller.command("ATE0")
            try await answerer.command("ATE0S0=1")
            try await caller.command("ATD5550021", expect: "CONNECT 33600\r\n")
            try await answerer.read(until: "CONNECT 33600\r\n")
            try await caller.send("echo me")
            #expect(try await caller.read(until: "echo me") == "echo me")
            #expect(try await answerer.read(until: "echo me") == "echo me")
        }
    }

    @Test("A ring call whose line drops: both sides report NO CARRIER")
    func ringCallDrop() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let caller = try ModemClient(bank.modems[0])
            let answerer = try ModemClient(bank.modems[1])
            try await caller.command("ATE0S10=1")
            try await answerer.command("ATE0S0=1S10=1")
            try await caller.command("ATD5550022", expect: "CONNECT 33600\r\n")
            #expect(try await caller.read(until: "NO CARRIER\r\n", timeout: .seconds(3)) == "\r\nNO CARRIER\r\n")
            #expect(try await answerer.read(until: "NO CARRIER\r\n", timeout: .seconds(3)).hasSuffix("\r\nNO CARRIER\r\n"))
            #expect(bank.modems[0].events.contains("on-hook carrier-lost"))
            #expect(bank.modems[1].events.contains("on-hook remote"))
        }
    }

    @Test("The caller aborts while the callee rings: the ringing stops")
    func callerAbortsRinging() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let caller = try ModemClient(bank.modems[0])
            let answerer = try ModemClient(bank.modems[1])
            try await caller.command("ATE0")
            try await answerer.command("ATE0S7=1")
            try await caller.send("ATD1001\r")
            try await answerer.read(until: "RING\r\n")
            try await Task.sleep(for: ModemEmulator.abortGrace)
            try await caller.send("\r")
            #expect(try await caller.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(await eventually { !bank.modems[1].status.isRinging })
            #expect(try await answerer.command("ATA", expect: "NO CARRIER\r\n", timeout: .seconds(3)).hasSuffix("NO CARRIER\r\n"))
        }
    }
}
