import FakeModem
import Foundation
import Testing

@Suite("Scenario files")
struct ScenarioTests {
    @Test("The fixtures parse", arguments: ["rich.yaml", "two-modems.yaml", "faults.yaml"])
    func fixturesParse(_ name: String) throws {
        let scenario = try fixture(name)
        #expect(scenario.source.hasSuffix(name))
        #expect(!scenario.modems.isEmpty)
        #expect(throws: Never.self) { try FakeModemBank(scenario: scenario) }
    }

    @Test("What rich.yaml says")
    func richContents() throws {
        let scenario = try fixture("rich.yaml")
        #expect(scenario.modems.map(\.name) == ["caller", "answerer"])
        #expect(scenario.modems[1].identity.information[0] == "33600")
        #expect(scenario.modems[1].ringInterval == .milliseconds(250))
        #expect(scenario.modems[0].registers[7] == 5)
        let first = try #require(scenario.routes.first)
        #expect(first.match == .exact("5551234"))
        #expect(first.origin?.hasSuffix("rich.yaml:18") == true)
        #expect(first.outcome.delay == .milliseconds(100))
        #expect(first.outcome.progress == [
            ProgressLine("CARRIER 33600"), ProgressLine("PROTOCOL: LAPM", code: 77, delay: .milliseconds(20)),
            ProgressLine("COMPRESSION: V42BIS", delay: .milliseconds(20)),
        ])
        #expect(first.outcome.kind == .connect(ConnectSpec(result: ResultCode(text: "CONNECT 33600/ARQ/V42BIS", code: 35))))
        #expect(scenario.otherwise == .result(.noCarrier, delay: .milliseconds(50)))
        let toll = try #require(scenario.routes.first { $0.match == .glob("1800*") })
        #expect(toll.match.matches("18001234567"))
        #expect(!toll.match.matches("1900"))
        #expect(NumberRoute.Match.glob("555?999").matches("5551999"))
        #expect(!NumberRoute.Match.glob("555?999").matches("55519999"))
    }

    @Test("The faults scenario sets every fault")
    func faultsContents() throws {
        let scenario = try fixture("faults.yaml")
        let faults = scenario.modems.map(\.faults)
        #expect(faults[0].noise == LineNoise(rate: 1, seed: 7))
        #expect(faults[1].lateResults == .milliseconds(400))
        #expect(faults[2].duplicateResults)
        #expect(faults[3].ignoresDTR)
        #expect(faults[4].ignoresHangUp)
        #expect(faults[5].slowResponses == .milliseconds(300))
        #expect(faults[6].stuckEcho)
        #expect(faults[7].droppedFirstLines == 2)
        #expect(faults[8].omitsLeadingCRLF)
        #expect(faults[9].spuriousRingInterval == .milliseconds(300))
        #expect(faults[10].parityBit)
    }

    /// The error for a YAML text, which must fail.
    private func problem(_ yaml: String) -> ScenarioError? {
        do {
            _ = try Scenario(yaml: yaml, source: "bad.yaml")
            Issue.record("no error for:\n\(yaml)")
            return nil
        } catch {
            return error
        }
    }

    @Test("Errors name the file, the line and the key", arguments: [
        ("modemz: []\n", 1, "modemz", "unknown key"),
        ("numbers:\n  - number: \"1\"\n    connect: CONNECT 9600\n    delay: soon\n", 4, "numbers[0].delay", "expected seconds"),
        ("numbers:\n  - number: \"1\"\n    delay: 1\n", 2, "numbers[0]", "say what happens"),
        ("numbers:\n  - number: \"1\"\n    connect: CONNECT\n    result: BUSY\n", 2, "numbers[0]", "only one of"),
        ("numbers:\n  - number: \"1\"\n    pattern: \"1*\"\n    result: BUSY\n", 2, "numbers[0]", "not both"),
        ("numbers:\n  - number: \"555-1234\"\n    result: BUSY\n", 2, "numbers[0].number", "dial digits"),
        ("numbers:\n  - pattern: \"55[5]\"\n    result: BUSY\n", 2, "numbers[0].pattern", "wildcards"),
        ("numbers:\n  - number: \"1\"\n    result: VOICE\n", 3, "numbers[0].result", "add 'code:'"),
        ("numbers:\n  - number: \"1\"\n    result: CONNECT 9600\n", 3, "numbers[0].result", "use 'connect:'"),
        ("numbers:\n  - number: \"1\"\n    connect: HELLO\n", 3, "numbers[0].connect", "starts with 'CONNECT'"),
        ("numbers:\n  - number: \"1\"\n    connect: CONNECT\n    data: weird\n", 4, "numbers[0].data", "'loopback'"),
        ("numbers:\n  - number: \"1\"\n    result: BUSY\n    banner: hi\n", 4, "numbers[0].banner", "only a 'connect'"),
        ("numbers:\n  - number: \"1\"\n    ring: bob\n    result: BUSY\n", 4, "numbers[0].result", "not allowed with 'ring'"),
        ("numbers:\n  - number: \"1\"\n    connect: CONNECT\n    handshake: 1\n", 4, "numbers[0].handshake", "handshake"),
        ("numbers:\n  - number: \"1\"\n    silence: maybe\n", 3, "numbers[0].silence", "true or false"),
        ("modems:\n  - name: a\n    registers: {S99: 1}\n", 3, "modems[0].registers.S99", "unknown S-register"),
        ("modems:\n  - name: a\n    registers: {S7: 300}\n", 3, "modems[0].registers.S7", "0…255"),
        ("modems:\n  - name: a\n    profile: E0 D1\n", 3, "modems[0].profile", "settings commands"),
        ("modems:\n  - name: a b\n", 2, "modems[0].name", "only letters"),
        ("modems:\n  - name: a\n  - name: a\n", 3, "modems[1].name", "used twice"),
        ("modems:\n  - faults: {noise: 2}\n", 2, "modems[0].faults.noise", "probability"),
        ("modems:\n  - faults: {gremlins: true}\n", 2, "modems[0].faults.gremlins", "unknown key"),
        ("modem-defaults:\n  ring-interval: 0\n", 2, "modem-defaults.ring-interval", "more than 0"),
        ("modems:\n  - identity: {I10: x}\n", 2, "modems[0].identity.I10", "unknown key"),
        ("numbers:\n  - number: \"1\"\n    connect: [CONNECT\n", 4, nil, "not valid YAML"),
        ("numbers: 3\n", 1, "numbers", "expected a list"),
    ] as [(String, Int, String?, String)])
    func errors(_ yaml: String, line: Int, key: String?, message: String) throws {
        let error = try #require(problem(yaml))
        #expect(error.file == "bad.yaml")
        #expect(error.line == line, "\(error)")
        #expect(error.key == key, "\(error)")
        #expect(error.message.contains(message), "\(error)")
        #expect(error.description.hasPrefix("bad.yaml:\(line):"))
    }

    @Test("A file error names the file; broken.yaml fails at line 7, key numbers[0].delay")
    func fileErrors() throws {
        let missing = scenariosFolder.appendingPathComponent("no-such-file.yaml")
        #expect(throws: ScenarioError.self) { try Scenario(contentsOf: missing) }
        do {
            _ = try fixture("broken.yaml")
            Issue.record("broken.yaml parsed")
        } catch {
            #expect(error.file.hasSuffix("Fixtures/scenarios/broken.yaml"))
            #expect(error.line == 7)
            #expect(error.key == "numbers[0].delay")
            #expect(error.description.contains("broken.yaml:7:12: key 'numbers[0].delay': expected seconds"))
        }
    }

    @Test("Seconds may be written 0.25, 2, 250ms or 2s")
    func secondsForms() throws {
        let scenario = try scenario("""
            numbers:
              - {number: "1", delay: 0.25, result: BUSY}
              - {number: "2", delay: 2, result: BUSY}
              - {number: "3", delay: 250ms, result: BUSY}
              - {number: "4", delay: 2s, result: BUSY}
            """)
        #expect(scenario.routes.map(\.outcome.delay) == [.milliseconds(250), .seconds(2), .milliseconds(250), .seconds(2)])
    }

    @Test("A ring route naming no modem of the bank is refused by the bank")
    func unknownRingTarget() throws {
        let scenario = try scenario("""
            modems:
              - name: alice
            numbers:
              - number: "1"
                ring: bob
            """)
        #expect {
            try FakeModemBank(scenario: scenario)
        } throws: { error in
            guard case FakeModemError.configuration(let message) = error else { return false }
            return message.contains("test.yaml:4") && message.contains("ring: bob")
        }
        // With two modems, the second one is modem1 by default: still no bob.
        #expect(throws: FakeModemError.self) { try FakeModemBank(scenario: scenario, count: 2) }
    }

    @Test("A built scenario with a bad profile is refused")
    func badProfileInCode() {
        let scenario = Scenario(modems: [ModemSettings(profile: "ATD1")])
        #expect(throws: FakeModemError.self) { try FakeModemBank(scenario: scenario) }
    }
}
