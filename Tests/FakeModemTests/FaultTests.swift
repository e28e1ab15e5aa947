import FakeModem
import Foundation
import Testing

/// Every fault of `Fixtures/scenarios/faults.yaml`, one modem each.
@Suite("Fault injection")
struct FaultTests {
    private func withFaultyModem(_ name: String, _ body: (EmulatedModem, ModemClient) async throws -> Void) async throws {
        try await withBank(try fixture("faults.yaml")) { bank in
            guard let modem = bank[name] else {
                Issue.record("faults.yaml has no modem \(name)")
                return
            }
            try await body(modem, try ModemClient(modem))
        }
    }

    @Test("Line noise around results")
    func noise() async throws {
        try await withFaultyModem("noisy") { _, client in
            try await client.send("ATE0\r")
            var noisy = 0
            for _ in 0..<5 {
                let answer = try await client.readBytes(until: Array("OK\r\n".utf8)) + client.drainBytes(for: .milliseconds(50))
                if answer.count > "\r\nOK\r\n".utf8.count { noisy += 1 }
                try await client.send("AT\r")
            }
            // Rate 1: a burst before and after every result.
            #expect(noisy == 5)
        }
    }

    /// Found by soak-bench: a burst `\r\nCONNECT 96` ended by the next result's CR LF read as
    /// a whole `CONNECT 96`, so a dial to a NO ANSWER number "connected". Noise may garble
    /// results but must not invent one.
    @Test("Line noise never forms a whole result line")
    func noiseIsNeverAResult() async throws {
        try await withFaultyModem("noisy") { _, client in
            try await client.send("ATE0\r")
            var output: [UInt8] = []
            for _ in 0..<400 {
                output += try await client.readBytes(until: Array("OK\r\n".utf8))
                try await client.send("AT\r")
            }
            output += try await client.readBytes(until: Array("OK\r\n".utf8)) + client.drainBytes(for: .milliseconds(50))
            let lines = output.split(whereSeparator: { $0 == 13 || $0 == 10 }).map { String(decoding: $0, as: UTF8.self) }
            let invented = lines.filter { $0.hasPrefix("CONNECT") || $0 == "BUSY" || $0 == "RING" || $0 == "NO CARRIER" }
            #expect(invented.isEmpty, "noise made result lines: \(invented)")
            #expect(lines.filter { $0 == "OK" }.count >= 401)
        }
    }

    @Test("Late results: BUSY arrives after the modem already answered the next command")
    func lateResults() async throws {
        try await withFaultyModem("late") { modem, client in
            try await client.command("ATE0")
            try await client.send("ATD5550000\r")
            #expect(await eventually { modem.events.contains("on-hook busy") })
            #expect(!modem.isOffHook)
            #expect(try await client.command("AT") == "\r\nOK\r\n")
            #expect(try await client.read(until: "BUSY\r\n") == "\r\nBUSY\r\n")
            #expect(modem.events.contains("result BUSY late"))
        }
    }

    @Test("Duplicated results")
    func duplicates() async throws {
        try await withFaultyModem("twice") { _, client in
            try await client.command("ATE0")
            try await client.read(until: "OK\r\n")
            try await client.send("AT\r")
            #expect(try await client.read(until: "OK\r\n") == "\r\nOK\r\n")
            #expect(try await client.read(until: "OK\r\n") == "\r\nOK\r\n")
            #expect(try await client.drain(for: .milliseconds(100)) == "")
        }
    }

    @Test("A modem that ignores DTR stays in the call")
    func ignoresDTR() async throws {
        try await withFaultyModem("deaf-to-dtr") { modem, client in
            try await client.command("ATE0&D2")
            try await client.command("ATD1", expect: "CONNECT 9600\r\n")
            try await client.port.dropDTR(for: .milliseconds(200))
            #expect(try await client.drain(for: .milliseconds(300)) == "")
            #expect(modem.mode == .online)
            #expect(modem.events.contains("fault ignore-dtr"))
        }
    }

    @Test("A modem that ignores ATH answers OK and stays in the call")
    func ignoresHangUp() async throws {
        try await withFaultyModem("sticky") { modem, client in
            try await client.command("ATE0S12=5")
            try await client.command("ATD1", expect: "CONNECT 9600\r\n")
            try await Task.sleep(for: .milliseconds(200))
            try await client.send("+++")
            try await client.read(until: "OK\r\n")
            #expect(try await client.command("ATH") == "\r\nOK\r\n")
            #expect(modem.isOffHook)
            #expect(modem.events.contains("fault ignore-hangup"))
            #expect(try await client.command("ATO", expect: "CONNECT 9600\r\n") == "\r\nCONNECT 9600\r\n")
            try await client.port.dropDTR(for: .milliseconds(100))
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
        }
    }

    @Test("Slow responses")
    func slow() async throws {
        try await withFaultyModem("slow") { _, client in
            try await client.send("ATE0\r")
            #expect(try await client.read(until: "ATE0\r") == "ATE0\r")
            #expect(try await client.drain(for: .milliseconds(150)) == "")
            try await client.read(until: "OK\r\n")
            let start = ContinuousClock.now
            try await client.send("AT\r")
            #expect(try await client.read(until: "OK\r\n") == "\r\nOK\r\n")
            #expect(ContinuousClock.now - start >= .milliseconds(290))
        }
    }

    @Test("Echo that survives E0")
    func stuckEcho() async throws {
        try await withFaultyModem("echoer") { _, client in
            try await client.command("ATE0")
            #expect(try await client.command("AT") == "AT\r\r\nOK\r\n")
        }
    }

    @Test("The first command lines after power-up are lost")
    func droppedLines() async throws {
        try await withFaultyModem("sleepy") { modem, client in
            for _ in 0..<2 {
                try await client.send("AT\r")
                #expect(try await client.read(until: "AT\r") == "AT\r")
                #expect(try await client.drain(for: .milliseconds(150)) == "")
            }
            #expect(try await client.command("AT") == "AT\r\r\nOK\r\n")
            #expect(modem.events.filter { $0.hasPrefix("fault drop-line") }.count == 2)
        }
    }

    @Test("Results without the leading CR LF")
    func omitsLeadingCRLF() async throws {
        try await withFaultyModem("sierra") { (_, client) async throws in
            #expect(try await client.command("ATE0") == "ATE0\rOK\r\n")
            #expect(try await client.command("ATD5550000", expect: "BUSY\r\n") == "BUSY\r\n")
        }
    }

    @Test("Unsolicited RING while idle")
    func spuriousRings() async throws {
        try await withFaultyModem("ringer") { modem, client in
            let seen = try await client.drain(for: .milliseconds(800))
            #expect(seen.components(separatedBy: "\r\nRING\r\n").count - 1 >= 2)
            #expect(modem.events.contains("fault spurious-ring"))
            #expect(try await client.command("AT").hasSuffix("\r\nOK\r\n"))
        }
    }

    @Test("Even parity in bit 7 in command state")
    func parityBit() async throws {
        try await withFaultyModem("parity") { _, client in
            try await client.send("AT\r")
            let answer = try await client.readBytes(until: [0x0A])  // LF has even parity
            let expected = Array("AT\r\r\n".utf8).map { byte in byte.nonzeroBitCount % 2 == 0 ? byte : byte | 0x80 }
            #expect(answer == expected)
            #expect(answer[1] == 0xD4)  // 'T' has three bits set
        }
    }

    @Test("Faults switched at run time: a modem goes silent (hung) and comes back")
    func hungAtRunTime() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            #expect(try await client.command("AT").hasSuffix("OK\r\n"))
            modem.changeFaults(FaultSet(hung: true))
            #expect(modem.faults.hung)
            try await client.send("AT\r")
            #expect(try await client.drain(for: .milliseconds(300)).isEmpty)
            #expect(modem.events.contains { $0.hasPrefix("fault lost-input hung") })
            modem.changeFaults(FaultSet())
            #expect(try await client.command("AT").hasSuffix("OK\r\n"))
        }
    }

    @Test("A carrier dropped while dialing fails the call with NO CARRIER; with no call it does nothing")
    func carrierDroppedWhileDialing() async throws {
        try await withBank(try scenario("""
            modems: [{name: m}]
            otherwise: {connect: CONNECT 9600, delay: 2}
            """)) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            #expect(try await client.command("ATE0").hasSuffix("OK\r\n"))
            modem.dropCarrier()
            #expect(try await client.command("AT").hasSuffix("OK\r\n"))
            let mark = modem.transcriptMark
            try await client.send("ATD5551234\r")
            #expect(await modem.waitForEvent("dial", after: mark, timeout: .seconds(3)) != nil)
            modem.dropCarrier()
            #expect(try await client.readBytes(until: Array("NO CARRIER\r\n".utf8)).count > 0)
            #expect(!modem.isOffHook)
        }
    }
}
