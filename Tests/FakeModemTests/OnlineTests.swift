import FakeModem
import Foundation
import Serial
import Testing

/// Data mode, the `+++` escape, and DTR as seen through the slave's termios.
@Suite("Online mode, escape and DTR")
struct OnlineTests {
    /// A modem 0 in a loopback call with S12 = 10 (200 ms), echo off.
    private func connected(_ bank: FakeModemBank, setup: String = "ATE0S12=10") async throws -> ModemClient {
        let client = try ModemClient(bank.modems[0])
        try await client.command(setup)
        try await client.command("ATD5551234", expect: "CONNECT 115200\r\n")
        return client
    }

    @Test("+++ with the guard time: OK in online-command mode; ATO resumes, ATH hangs up")
    func escapeResumeHangUp() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try await connected(bank)
            try await client.send("data")
            #expect(try await client.read(until: "data") == "data")
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("+++")
            // Loopback: the +++ travel as data, then the escape is accepted.
            #expect(try await client.read(until: "OK\r\n") == "+++\r\nOK\r\n")
            #expect(modem.mode == .onlineCommand)
            #expect(modem.isOffHook)
            #expect(try await client.command("ATO", expect: "CONNECT 115200\r\n") == "\r\nCONNECT 115200\r\n")
            #expect(modem.mode == .online)
            try await client.send("more")
            #expect(try await client.read(until: "more") == "more")
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("+++")
            try await client.read(until: "OK\r\n")
            #expect(try await client.command("ATH") == "\r\nOK\r\n")
            #expect(!modem.isOffHook)
            let events = modem.events
            #expect(events.filter { $0 == "escape" }.count == 2)
            #expect(events.contains("online"))
            #expect(events.last(where: { $0.hasPrefix("on-hook") }) == "on-hook ATH")
        }
    }

    @Test("No escape when +++ sits inside a data stream")
    func plusInsideData() async throws {
        try await withBank { bank in
            let client = try await connected(bank)
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("a+++b")
            #expect(try await client.read(until: "a+++b") == "a+++b")
            #expect(try await client.drain(for: .milliseconds(400)) == "")
            try await client.send("+++x")
            #expect(try await client.read(until: "+++x") == "+++x")
            #expect(try await client.drain(for: .milliseconds(400)) == "")
            #expect(bank.modems[0].mode == .online)
        }
    }

    @Test("No escape without the silence after the third +")
    func noAfterSilence() async throws {
        try await withBank { bank in
            let client = try await connected(bank)
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("+++")
            try await Task.sleep(for: .milliseconds(60))
            try await client.send("z")
            #expect(try await client.read(until: "+++z") == "+++z")
            #expect(try await client.drain(for: .milliseconds(400)) == "")
            #expect(bank.modems[0].mode == .online)
        }
    }

    @Test("No escape without the silence before the first +")
    func noBeforeSilence() async throws {
        try await withBank { bank in
            let client = try await connected(bank)
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("q")
            try await Task.sleep(for: .milliseconds(60))
            try await client.send("+++")
            #expect(try await client.read(until: "q+++") == "q+++")
            #expect(try await client.drain(for: .milliseconds(400)) == "")
            #expect(bank.modems[0].mode == .online)
        }
    }

    @Test("S2 picks the escape character; S2 > 127 disables the escape")
    func escapeCharacter() async throws {
        try await withBank { bank in
            let client = try await connected(bank, setup: "ATE0S12=10S2=42")
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("***")
            #expect(try await client.read(until: "OK\r\n") == "***\r\nOK\r\n")
            try await client.command("ATS2=200O", expect: "CONNECT 115200\r\n")
            try await Task.sleep(for: .milliseconds(350))
            try await client.send("+++")
            #expect(try await client.read(until: "+++") == "+++")
            #expect(try await client.drain(for: .milliseconds(400)) == "")
            #expect(bank.modems[0].mode == .online)
        }
    }

    /// Drops DTR by speed B0 for 200 ms during a call with the given `&D`; returns what
    /// the modem answered (up to `expect`, or within 300 ms when nothing is expected), its
    /// mode then, and its events.
    private func dropDTRInCall(_ dtrMode: Int, expect: String?) async throws -> (String, ModemEmulator.Mode, [String]) {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try await connected(bank, setup: "ATE0S12=10&D\(dtrMode)")
            try await client.port.dropDTR(for: .milliseconds(200))
            let answer = if let expect { try await client.read(until: expect) } else { try await client.drain(for: .milliseconds(300)) }
            #expect(await eventually { modem.events.contains("dtr-raise") })
            let mode = modem.mode
            if mode == .online {
                try await client.send("still here")
                #expect(try await client.read(until: "still here") == "still here")
            }
            return (answer, mode, modem.events)
        }
    }

    @Test("&D2: a DTR drop hangs up with NO CARRIER")
    func dtrHangUp() async throws {
        let (answer, mode, events) = try await dropDTRInCall(2, expect: "NO CARRIER\r\n")
        #expect(answer == "\r\nNO CARRIER\r\n")
        #expect(mode == .command)
        #expect(events.contains("dtr-drop"))
        #expect(events.contains("on-hook dtr"))
    }

    @Test("&D1: a DTR drop goes to online-command mode with the call up")
    func dtrOnlineCommand() async throws {
        let (answer, mode, events) = try await dropDTRInCall(1, expect: "OK\r\n")
        #expect(answer == "\r\nOK\r\n")
        #expect(mode == .onlineCommand)
        #expect(events.contains("escape dtr"))
    }

    @Test("&D0: a DTR drop is ignored")
    func dtrIgnored() async throws {
        let (answer, mode, events) = try await dropDTRInCall(0, expect: nil)
        #expect(answer == "")
        #expect(mode == .online)
        #expect(events.contains("dtr-drop"))
        #expect(!events.contains { $0.hasPrefix("on-hook") })
    }

    @Test("&D3: a DTR drop hangs up and resets the modem")
    func dtrReset() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try await connected(bank, setup: "ATE0V1S12=10&D3")
            try await client.port.dropDTR(for: .milliseconds(200))
            #expect(try await client.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(await eventually { modem.events.contains("reset") })
            // The reset brought echo back (E1) and S12 back to 50.
            #expect(try await client.command("ATS12?") == "ATS12?\r\r\n050\r\n\r\nOK\r\n")
            #expect(modem.events.contains("on-hook dtr"))
        }
    }

    @Test("A DTR drop shorter than S25 is ignored")
    func shortDTRDrop() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try await connected(bank, setup: "ATE0S12=10S25=50")
            try await client.port.dropDTR(for: .milliseconds(100))
            #expect(try await client.drain(for: .milliseconds(700)) == "")
            #expect(modem.mode == .online)
            #expect(modem.events.contains("dtr-drop"))
        }
    }

    @Test("Closing the port with HUPCL drops DTR: &D2 hangs up; reopening raises DTR")
    func closeWithHUPCL() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try await connected(bank)
            client.close()
            #expect(await eventually { !modem.isOffHook })
            let events = modem.events
            #expect(events.contains("slave-closed hupcl=yes"))
            #expect(events.contains("dtr-drop"))
            #expect(events.contains("on-hook dtr"))
            let again = try ModemClient(modem)
            #expect(await eventually { modem.status.isDTRRaised })
            #expect(try await again.command("AT", expect: "OK\r\n").hasSuffix("\r\nOK\r\n"))
            #expect(modem.events.filter { $0 == "slave-open" }.count == 2)
        }
    }

    @Test("Closing the port without HUPCL leaves the call up")
    func closeWithoutHUPCL() async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let options = SerialOptions(hangUpOnClose: false)
            let client = try ModemClient(modem, options: options)
            try await client.command("ATE0S12=10")
            try await client.command("ATD5551234", expect: "CONNECT 115200\r\n")
            client.close()
            #expect(await modem.expectEvent("slave-closed hupcl=no") != nil)
            try await Task.sleep(for: .milliseconds(200))
            #expect(modem.mode == .online)
            let again = try ModemClient(modem, options: options)
            #expect(await eventually { modem.events.filter { $0 == "slave-open" }.count == 2 })
            try await Task.sleep(for: .milliseconds(250))
            try await again.send("+++")
            try await again.read(until: "OK\r\n")
            #expect(try await again.command("ATH") == "\r\nOK\r\n")
            #expect(!modem.isOffHook)
        }
    }

    @Test("Closing the port with a call up: HUPCL acts as &D0…&D3 say; without HUPCL the call stays",
          arguments: [(0, true), (1, true), (2, true), (3, true), (0, false), (1, false), (2, false), (3, false)])
    func closeMatrix(dtrMode: Int, hangUpOnClose: Bool) async throws {
        try await withBank { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem, options: SerialOptions(hangUpOnClose: hangUpOnClose))
            try await client.command("ATE0S12=10&D\(dtrMode)")
            try await client.command("ATD1234", expect: "CONNECT 115200\r\n")
            let mark = modem.transcriptMark
            client.close()
            await modem.expectEvent("slave-closed hupcl=\(hangUpOnClose ? "yes" : "no")", after: mark)
            let expected: ModemEmulator.Mode = switch (hangUpOnClose, dtrMode) {
            case (false, _), (true, 0): .online
            case (true, 1): .onlineCommand
            default: .command
            }
            if expected == .online {
                // Past S25 and the DTR sampling: nothing happens.
                try await Task.sleep(for: .milliseconds(150))
            }
            #expect(await eventually { modem.mode == expected }, "mode \(modem.mode)")
            let events = modem.events(after: mark)
            #expect(events.contains("dtr-drop") == hangUpOnClose)
            if expected == .command {
                // Nobody can read it, but the transcript has it.
                #expect(events.contains("on-hook dtr"))
                #expect(events.contains("result NO CARRIER"))
                #expect(events.contains("reset") == (dtrMode == 3))
            }
        }
    }
}
