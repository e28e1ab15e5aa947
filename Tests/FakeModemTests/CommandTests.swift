import FakeModem
import Foundation
import Testing

/// Command mode, driven through a real pty with `SerialPort`.
@Suite("Command mode over a pty")
struct CommandTests {
    @Test("AT and at are prefixes; mixed case At is ignored")
    func prefixes() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            #expect(try await client.command("AT") == "AT\r\r\nOK\r\n")
            #expect(try await client.command("at") == "at\r\r\nOK\r\n")
            try await client.send("At\r")
            #expect(try await client.read(until: "At\r") == "At\r")
            #expect(try await client.drain(for: .milliseconds(200)) == "")
            #expect(try await client.command("ate0") == "ate0\r\r\nOK\r\n")
        }
    }

    @Test("E1 echoes every typed character including the CR; E0 does not")
    func echo() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            #expect(try await client.command("ATI0") == "ATI0\r\r\n56000\r\n\r\nOK\r\n")
            #expect(try await client.command("ATE0") == "ATE0\r\r\nOK\r\n")
            #expect(try await client.command("ATI0") == "\r\n56000\r\n\r\nOK\r\n")
        }
    }

    @Test("V0: results are digits and CR; information text still ends in CR LF")
    func numericFraming() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            #expect(try await client.command("ATV0", expect: "0\r") == "0\r")
            #expect(try await client.command("ATI3", expect: "\n0\r") == "FakeModem V1.0\r\n0\r")
            #expect(try await client.command("ATFOO", expect: "4\r") == "4\r")
            #expect(try await client.command("ATV1") == "\r\nOK\r\n")
        }
    }

    @Test("Q1 suppresses results but not information text")
    func quiet() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0Q1", expect: "ATE0Q1\r")
            try await client.send("AT\r")
            #expect(try await client.drain(for: .milliseconds(250)) == "")
            try await client.send("ATI3\r")
            #expect(try await client.read(until: "V1.0\r\n") == "\r\nFakeModem V1.0\r\n")
            #expect(try await client.drain(for: .milliseconds(150)) == "")
            #expect(try await client.command("ATQ0") == "\r\nOK\r\n")
            #expect(bank.modems[0].events.contains("result OK quiet"))
        }
    }

    @Test("A/ repeats the last line without AT and without CR")
    func repeatLastLine() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            #expect(try await client.command("ATS7?I0") == "\r\n050\r\n\r\n56000\r\n\r\nOK\r\n")
            try await client.send("A/")
            #expect(try await client.read(until: "OK\r\n") == "\r\n050\r\n\r\n56000\r\n\r\nOK\r\n")
            #expect(bank.modems[0].events.contains("command A/"))
        }
    }

    @Test("Several commands per line, spaces ignored, one final result")
    func severalCommands() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            #expect(try await client.command("AT E0 V1 Q0 X4 &C1 &D2 S0=0 +FCLASS=0") == "AT E0 V1 Q0 X4 &C1 &D2 S0=0 +FCLASS=0\r\r\nOK\r\n")
            #expect(try await client.command("ATE0V1Q0X4") == "\r\nOK\r\n")
            #expect(try await client.command("ATL1M0W2&W") == "\r\nOK\r\n")
            #expect(try await client.command("AT&C0&C1&D0&D1&D3&D2W0W1") == "\r\nOK\r\n")
        }
    }

    @Test("The first failing command aborts the rest of the line with ERROR")
    func firstFailureAborts() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            // E0 runs, K is unknown, E1 never runs: no echo afterwards.
            #expect(try await client.command("ATE0KE1", expect: "ERROR\r\n") == "ATE0KE1\r\r\nERROR\r\n")
            #expect(try await client.command("AT") == "\r\nOK\r\n")
            for bad in ["ATX5", "ATE2", "AT&D4", "AT&C2", "ATS99=1", "ATS7=256", "ATI9", "AT+FCLASS=1", "AT+XYZ", "AT&F1", "ATZ2", "AT+GMI?"] {
                #expect(try await client.command(bad, expect: "ERROR\r\n") == "\r\nERROR\r\n", "\(bad)")
            }
        }
    }

    @Test("A body over 40 characters is refused")
    func tooLong() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            let forty = String(repeating: "E0", count: 20)
            #expect(try await client.command("AT" + forty) == "\r\nOK\r\n")
            #expect(try await client.command("AT" + forty + "E", expect: "ERROR\r\n") == "\r\nERROR\r\n")
        }
    }

    @Test("Backspace (S5) edits the line")
    func backspace() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            #expect(try await client.command("ATI3\u{8}0") == "\r\n56000\r\n\r\nOK\r\n")
        }
    }

    @Test("S-registers: set, query as three digits, select; S3 and S4 change the framing")
    func registers() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0")
            let defaults = [0: "000", 2: "043", 3: "013", 4: "010", 5: "008", 6: "002", 7: "050", 8: "002", 10: "014", 12: "050"]
            for (register, value) in defaults.sorted(by: { $0.key < $1.key }) {
                #expect(try await client.command("ATS\(register)?") == "\r\n\(value)\r\n\r\nOK\r\n", "S\(register)")
            }
            try await client.command("ATS7=60")
            #expect(try await client.command("ATS7?") == "\r\n060\r\n\r\nOK\r\n")
            #expect(try await client.command("ATS8?S7") == "\r\n002\r\n\r\nOK\r\n")
            #expect(try await client.command("AT?") == "\r\n060\r\n\r\nOK\r\n")
            // S4 = '!' replaces LF in the framing; then S3 = '@' ends lines and results.
            #expect(try await client.command("ATS4=33", expect: "OK\r!") == "\r!OK\r!")
            try await client.send("ATS3=64\r")
            #expect(try await client.read(until: "OK@!") == "@!OK@!")
            try await client.send("ATI0@")
            #expect(try await client.read(until: "OK@!") == "@!56000@!@!OK@!")
            #expect(bank.modems[0].status.registers[3] == 64)
        }
    }

    @Test("Z and &F reset; &W stores the profile Z reloads")
    func resets() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0V0", expect: "V0\r0\r")
            // Typed with E0, so not echoed; answered in the reloaded profile (V1).
            #expect(try await client.command("ATZ") == "\r\nOK\r\n")
            try await client.command("ATS7=30V0&W", expect: "&W\r0\r")
            try await client.command("ATV1S7=40")
            #expect(try await client.command("ATZ", expect: "Z\r0\r") == "ATZ\r0\r")
            #expect(try await client.command("ATS7?", expect: "\n0\r") == "ATS7?\r030\r\n0\r")
            #expect(try await client.command("AT&F") == "AT&F\r\r\nOK\r\n")
            #expect(try await client.command("ATS7?") == "ATS7?\r\r\n050\r\n\r\nOK\r\n")
            #expect(bank.modems[0].events.contains("reset"))
        }
    }

    @Test("Identity: I0…I4, +GCAP, +GMI, +GMM, +GMR, +GSN, configurable per modem")
    func identity() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let standard = try ModemClient(bank.modems[0])
            try await standard.command("ATE0")
            let expected = [0: "56000", 1: "255", 3: "FakeModem V1.0", 4: "swift-ras fake modem"]
            for (number, text) in expected.sorted(by: { $0.key < $1.key }) {
                #expect(try await standard.command("ATI\(number)") == "\r\n\(text)\r\n\r\nOK\r\n")
            }
            #expect(try await standard.command("ATI2") == "\r\nOK\r\n")
            #expect(try await standard.command("AT+GCAP") == "\r\n+GCAP: +FCLASS, +MS, +ES, +DS\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+GMI") == "\r\nswift-ras\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+GMM") == "\r\nFakeModem 56K\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+GMR") == "\r\n1.0\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+GSN") == "\r\n0000000001\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+GMI=?") == "\r\nOK\r\n")
            #expect(try await standard.command("AT+FCLASS?") == "\r\n0\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+FCLASS=?") == "\r\n0\r\n\r\nOK\r\n")
            #expect(try await standard.command("AT+FCLASS=0;+GMR") == "\r\n1.0\r\n\r\nOK\r\n")

            let custom = try ModemClient(bank.modems[1])
            try await custom.command("ATE0")
            #expect(try await custom.command("ATI0") == "\r\n33600\r\n\r\nOK\r\n")
            #expect(try await custom.command("ATI3") == "\r\nAnswerer V2.1\r\nBuilt for tests\r\n\r\nOK\r\n")
            #expect(try await custom.command("AT+GMI") == "\r\n+GMI: Fake Modems Inc.\r\n\r\nOK\r\n")
        }
    }

    @Test("H1 takes the line, H and H0 hang up")
    func hook() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0")
            #expect(try await client.command("ATH") == "\r\nOK\r\n")
            try await client.command("ATH1")
            #expect(modem.isOffHook)
            #expect(modem.mode == .offHookCommand)
            try await client.command("ATH0")
            #expect(!modem.isOffHook)
            #expect(modem.events.contains("on-hook ATH"))
        }
    }

    @Test("O without a call, A without a call")
    func onlineAndAnswerWithoutCall() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S7=1")
            #expect(try await client.command("ATO", expect: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            try await client.send("ATA\r")
            #expect(await eventually { modem.isOffHook })
            #expect(try await client.read(until: "NO CARRIER\r\n", timeout: .seconds(3)) == "\r\nNO CARRIER\r\n")
            #expect(!modem.isOffHook)
        }
    }

    @Test("Dial modifiers: T P W @ ! , ( ) - are accepted; digits 0-9 * # A-D are dialed")
    func dialModifiers() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S8=0S12=5")
            for (dial, number) in [("ATDT555-1234", "5551234"), ("ATDP(555)W12@!", "55512"), ("ATD*99#AB,C,D", "*99#ABCD"), ("AT D T 1 2 3", "123")] {
                let mark = modem.transcriptMark
                try await client.command(dial, expect: "CONNECT 115200\r\n")
                #expect(modem.events(after: mark).contains("dial \(number)"), "\(dial)")
                #expect(modem.isOffHook)
                try await client.hangUpByEscape()
            }
            for bad in ["ATDT555X", "ATDS=1", "ATD12;34", "ATD\"1\""] {
                #expect(try await client.command(bad, expect: "ERROR\r\n") == "\r\nERROR\r\n", "\(bad)")
                #expect(!modem.isOffHook)
            }
        }
    }

    @Test("; returns to command mode with OK, off-hook; L redials")
    func semicolonAndRedial() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S12=5")
            #expect(try await client.command("ATDT555;") == "\r\nOK\r\n")
            #expect(modem.mode == .offHookCommand)
            #expect(try await client.command("ATD1234", expect: "CONNECT") == "\r\nCONNECT")
            #expect(modem.events.contains("dial 5551234"))
            try await client.hangUpByEscape()
            let mark = modem.transcriptMark
            try await client.command("ATDL", expect: "CONNECT 115200\r\n")
            #expect(modem.events(after: mark).contains("dial 5551234"))
            try await client.hangUpByEscape()
        }
    }

    @Test(", pauses S8 seconds")
    func commaPause() async throws {
        try await withBank { bank in
            let client = try ModemClient(bank.modems[0])
            try await client.command("ATE0S8=1S12=5")
            let start = ContinuousClock.now
            try await client.command("ATD,1", expect: "CONNECT 115200\r\n")
            #expect(ContinuousClock.now - start >= .seconds(1))
            try await client.hangUpByEscape()
        }
    }

    @Test("Any byte while dialing aborts the dial with NO CARRIER")
    func abortDial() async throws {
        try await withBank(try fixture("rich.yaml")) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0")
            try await client.send("ATD5550009\r")
            #expect(await eventually { modem.mode == .dialing })
            try await Task.sleep(for: .milliseconds(200))
            try await client.send("\r")
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(!modem.isOffHook)
            #expect(modem.events.contains("on-hook abort"))
        }
    }
}

extension ModemClient {
    /// Leaves a call: silence, `+++`, silence (the modem must have S12 ≤ 10, 200 ms), `ATH`.
    func hangUpByEscape() async throws {
        _ = try await drain(for: .milliseconds(250))
        try await send("+++")
        try await read(until: "OK\r\n", timeout: .seconds(3))
        try await command("ATH")
    }
}
