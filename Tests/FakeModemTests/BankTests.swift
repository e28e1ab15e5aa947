import FakeModem
import Foundation
import Serial
import Testing
import TestSupport

@Suite("Transcript")
struct TranscriptTests {
    @Test("Escaping of payloads")
    func escaping() {
        #expect(TranscriptEntry.escape(Array("AT\r\n".utf8)) == "AT\\r\\n")
        #expect(TranscriptEntry.escape([0x00, 0xFF, 0x09, 0x5C, 0x7F]) == "\\x00\\xFF\\x09\\\\\\x7F")
    }

    @Test("A call in the transcript: format, events in order, file and memory agree")
    func callTranscript() async throws {
        let folder = try TestSupport.temporaryDirectory("transcript")
        defer { TestSupport.remove(folder) }
        let path = folder.appendingPathComponent("modem.log").path
        let memory = try await withBank(transcriptPath: path) { bank in
            let modem = bank.modems[0]
            let client = try ModemClient(modem)
            try await client.command("ATE0S12=10")
            try await client.command("ATDT5551234", expect: "CONNECT 115200\r\n")
            try await client.send("hi\u{0}")
            try await client.read(until: "hi\u{0}")
            try await client.hangUpByEscape()
            client.close()
            #expect(await modem.expectEvent("on-hook") != nil)
            #expect(await modem.expectEvent("slave-closed") != nil)
            #expect(modem.events.contains { $0.hasPrefix("power-on /dev/pts/") })
            let events = modem.events.filter { !$0.hasPrefix("power-on") && !$0.hasPrefix("line-settings") }
            #expect(events == [
                "slave-open", "command ATE0S12=10", "result OK", "command ATDT5551234", "off-hook", "dial 5551234",
                "connect CONNECT 115200", "result CONNECT 115200", "escape", "result OK", "command ATH", "on-hook ATH",
                "result OK", "slave-closed hupcl=yes", "dtr-drop",
            ])
            let lines = modem.transcript.map(\.description)
            #expect(lines.contains { $0.hasSuffix(" modem0 << ATE0S12=10\\r") || $0.hasSuffix(" modem0 << ATE0S12=10") })
            #expect(lines.contains { $0.hasSuffix(" modem0 >> \\r\\nCONNECT 115200\\r\\n") })
            #expect(lines.contains { $0.hasSuffix(" modem0 >> hi\\x00") })
            #expect(lines.contains { $0.hasSuffix(" modem0 -- dial 5551234") })
            return bank.transcriptText
        }
        let file = try String(contentsOfFile: path, encoding: .utf8)
        // The file also has the power-off lines written by stop().
        #expect(file.hasPrefix(memory))
        #expect(file.hasSuffix("modem0 -- power-off\n"))
        let pattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z modem0 (<<|>>|--) .+$/
        for line in file.split(separator: "\n") {
            #expect(line.wholeMatch(of: pattern) != nil, "\(line)")
        }
        let times = file.split(separator: "\n").map { $0.prefix(24) }
        #expect(times == times.sorted())
    }
}

@Suite("Fake modem banks")
struct BankTests {
    @Test("start and stop leak no descriptor; the slaves hang up")
    func noLeaks() async throws {
        let folder = try TestSupport.temporaryDirectory("bank")
        defer { TestSupport.remove(folder) }
        let log = folder.appendingPathComponent("t.log").path
        let bank = try FakeModemBank(count: 4, transcriptPath: log)
        let paths = bank.modems.map(\.slavePath)
        // Descriptors are counted in /proc/self/fd by what they refer to — a pty master by
        // its tty-index — so that other tests running meanwhile do not blur the count.
        // Ours: one master per modem, and the transcript file.
        #expect(paths.map(TestSupport.descriptorCount(referringTo:)) == [1, 1, 1, 1])
        #expect(TestSupport.descriptorCount(referringTo: log) == 1)
        try await bank.start()
        let client = try ModemClient(bank.modems[2])
        #expect(try await client.command("AT") == "AT\r\r\nOK\r\n")
        #expect(TestSupport.descriptorCount(referringTo: paths[2]) == 2)
        await bank.stop()
        await #expect(throws: SerialError.hangUp(path: paths[2])) { _ = try await client.drain(for: .seconds(1)) }
        client.close()
        #expect(paths.map(TestSupport.descriptorCount(referringTo:)) == [0, 0, 0, 0])
        #expect(TestSupport.descriptorCount(referringTo: log) == 0)
        await #expect(throws: FakeModemError.stopped) { try await bank.start() }
    }

    @Test("A bank dropped without stop() still closes its ptys")
    func dropWithoutStop() async throws {
        var bank: FakeModemBank? = try FakeModemBank(count: 2)
        try await bank?.start()
        let paths = bank?.modems.map(\.slavePath) ?? []
        bank = nil
        #expect(await eventually { paths.allSatisfy { TestSupport.descriptorCount(referringTo: $0) == 0 } })
    }

    @Test("unplug() closes the master: the port reads a hang-up; the peer loses carrier")
    func unplugNow() async throws {
        try await withBank(count: 2) { bank in
            let caller = try ModemClient(bank.modems[0])
            let callee = try ModemClient(bank.modems[1])
            try await caller.command("ATE0S10=1")
            try await callee.command("ATE0S0=1S10=1")
            try await caller.command("ATD1001", expect: "CONNECT 33600\r\n")
            try await callee.read(until: "CONNECT 33600\r\n")
            bank.modems[1].unplug()
            await #expect(throws: SerialError.hangUp(path: bank.modems[1].slavePath)) { _ = try await callee.drain(for: .seconds(1)) }
            #expect(try await caller.read(until: "NO CARRIER\r\n") == "\r\nNO CARRIER\r\n")
            #expect(bank.modems[1].mode == .unplugged)
            #expect(!bank.modems[0].isOffHook)
        }
    }

    @Test("The two-modem scenario: alice calls bob by number, bob auto-answers on the second ring")
    func twoModems() async throws {
        try await withBank(try fixture("two-modems.yaml")) { bank in
            let alice = try ModemClient(try #require(bank["alice"]))
            let bob = try ModemClient(try #require(bank["bob"]))
            try await alice.command("ATE0")
            try await bob.command("ATE0")
            try await alice.send("ATDT5550200\r")
            #expect(try await bob.read(until: "CONNECT 33600\r\n", timeout: .seconds(4)) == "\r\nRING\r\n\r\nRING\r\n\r\nCONNECT 33600\r\n")
            try await alice.read(until: "CONNECT 33600\r\n")
            try await bob.send("hello alice")
            #expect(try await alice.read(until: "hello alice") == "hello alice")
        }
    }

    @Test("64 modems in one process: each dials one and answers another, data both ways")
    func sixtyFourModems() async throws {
        let count = 64
        let scenario = Scenario(modemDefaults: ModemSettings(registers: [10: 1, 12: 5], ringInterval: .milliseconds(100)))
        try await withBank(scenario, count: count) { bank in
            // Round 1: even modems call odd ones; round 2: odd modems call even ones.
            for round in 0..<2 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for pair in 0..<(count / 2) {
                        let caller = bank.modems[2 * pair + round]
                        let callee = bank.modems[round == 0 ? 2 * pair + 1 : (2 * pair + 2) % count]
                        group.addTask { try await call(caller, callee, round: round) }
                    }
                    try await group.waitForAll()
                }
                #expect(bank.modems.allSatisfy { !$0.isOffHook }, "round \(round)")
            }
            for modem in bank.modems {
                #expect(modem.events.filter { $0.hasPrefix("dial ") }.count == 1, "\(modem.name)")
                #expect(modem.events.filter { $0.hasPrefix("answer") }.count == 1, "\(modem.name)")
            }
        }
    }
}

/// One call between two modems of a bank: dial, auto-answer, data both ways, hang up.
private func call(_ caller: EmulatedModem, _ callee: EmulatedModem, round: Int) async throws {
    let dialer = try ModemClient(caller)
    let answerer = try ModemClient(callee)
    try await dialer.command("ATE0")
    try await answerer.command("ATE0S0=1")
    try await dialer.send("ATD\(callee.number)\r")
    try await answerer.read(until: "CONNECT 33600\r\n")
    try await dialer.read(until: "CONNECT 33600\r\n")
    let ping = "ping \(caller.name) round \(round)"
    try await dialer.send(ping)
    #expect(try await answerer.read(until: ping) == ping)
    let pong = "pong \(callee.name)"
    try await answerer.send(pong)
    #expect(try await dialer.read(until: pong) == pong)
    try await dialer.hangUpByEscape()
    try await answerer.read(until: "NO CARRIER\r\n")
    try await answerer.command("ATS0=0")
}
