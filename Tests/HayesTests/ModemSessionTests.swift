import FakeModem
import Foundation
import Hayes
import Logging
import Serial
import Testing
import TestSupport

/// ModemSession against the fake modem on a real pty.
@Suite("ModemSession")
struct ModemSessionTests {
    static let timing = TestSupport.fastTiming

    /// One fake modem (S12 = 200 ms) with `faults`, a port on it, and a session.
    struct Bench {
        let bank: FakeModemBank
        let port: SerialPort
        let session: ModemSession

        init(faults: FaultSet = FaultSet(), profile: String = "", otherwise: CallOutcome = .connect("CONNECT 33600", delay: .milliseconds(30))) async throws {
            var modem = ModemSettings()
            modem.registers[12] = 10
            modem.faults = faults
            modem.profile = profile
            bank = try FakeModemBank(scenario: Scenario(modemDefaults: modem, otherwise: otherwise))
            try await bank.start()
            port = try SerialPort(path: bank.modems[0].slavePath)
            session = ModemSession(port: port, timing: ModemSessionTests.timing, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        }

        func finish() async {
            port.close()
            await bank.stop()
        }
    }

    @Test("commands collect info lines; ATZ, init and identity work")
    func commandsAndInfo() async throws {
        let bench = try await Bench()
        try await bench.session.initialize()
        let gcap = try await bench.session.expectOK(ATCommand(.capabilities))
        #expect(gcap.info.first?.hasPrefix("+GCAP:") == true)
        let s7 = try await bench.session.expectOK(ATCommand(.queryRegister(7)))
        #expect(s7.info == ["050"])
        let bad = try await bench.session.send(ATCommand(line: "AT&Q99X"))
        #expect(bad.final == .error)
        await bench.finish()
    }

    @Test("numeric (V0) results, lone CR framing and all, are understood")
    func numericFraming() async throws {
        let bench = try await Bench(profile: "V0")
        try await bench.session.initialize(initStrings: ["ATE0 V0 X4"])
        let s7 = try await bench.session.expectOK(ATCommand(.queryRegister(7)))
        #expect(s7.info == ["050"], "info text in V0 is not taken for result 50")
        let bad = try await bench.session.send(ATCommand(line: "ATXYZ"))
        #expect(bad.final == .error)
        try await bench.session.expectOK(ATCommand(.verbose(true)))
        #expect(try await bench.session.send(.attention).final == .ok)
        await bench.finish()
    }

    @Test("a modem that drops the first lines, or says nothing at all")
    func deadAndSleepyModems() async throws {
        let sleepy = try await Bench(faults: FaultSet(droppedFirstLines: 1))
        try await sleepy.session.initialize()
        await sleepy.finish()

        let dead = try await Bench(faults: FaultSet(droppedFirstLines: 1000))
        await #expect(throws: ModemError.noResponse(command: "ATQ0V1E0")) { try await dead.session.initialize() }
        await dead.finish()
    }

    @Test("an init string that could inject a command is refused before anything is sent")
    func badInitString() async throws {
        let bench = try await Bench()
        await #expect(throws: ModemError.self) { try await bench.session.initialize(initStrings: ["ATE0\rATD911"]) }
        await #expect(throws: ModemError.self) { try await bench.session.initialize(initStrings: ["AT+++"]) }
        await #expect(throws: ModemError.invalidCommand(.notAllowedInInitString(command: "D", position: 3, action: .dials))) {
            try await bench.session.initialize(initStrings: ["ATZ", "ATDT19005551234"])
        }
        await #expect(throws: ModemError.invalidCommand(.notAllowedInInitString(command: "H1", position: 3, action: .goesOffHook))) {
            try await bench.session.initialize(initStrings: ["ATH1"])
        }
        #expect(!bench.bank.modems[0].events.contains { $0.hasPrefix("command") })
        await bench.finish()
    }

    @Test("dial outcomes: connect, busy, and the deadline with an abort")
    func dialOutcomes() async throws {
        let bench = try await Bench()
        try await bench.session.initialize()
        let outcome = try await bench.session.dial(DialString("T5551234"), timeout: .seconds(5))
        guard case .connected(let info, _) = outcome else {
            Issue.record("expected CONNECT, got \(outcome)")
            await bench.finish()
            return
        }
        #expect(info.rate == 33600)
        #expect(await bench.session.mode == .online)
        let report = await bench.session.hangUp()
        #expect(report.method == .dtr && report.confirmed, "\(report)")
        await bench.finish()

        let busy = try await Bench(otherwise: .result(.busy, delay: .milliseconds(20)))
        try await busy.session.initialize()
        #expect(try await busy.session.dial(DialString("5551234"), timeout: .seconds(5)) == .failed(.busy))
        await busy.finish()

        let silent = try await Bench(otherwise: CallOutcome(kind: .silence))
        try await silent.session.initialize()
        #expect(try await silent.session.dial(DialString("5551234"), timeout: .milliseconds(300)) == .noResult(junk: []))
        #expect(await silent.session.mode == .command, "the dial was aborted")
        #expect(!silent.bank.modems[0].isOffHook)
        await silent.finish()
    }

    @Test("hang-up ladder: DTR, then +++/ATH, then HUPCL close", arguments: [
        (FaultSet(), HangUpReport.Method.dtr, true),
        (FaultSet(ignoresDTR: true), .escape, true),
        (FaultSet(ignoresDTR: true, ignoresHangUp: true), .hupclClose, false),
    ])
    func hangUpLadder(faults: FaultSet, method: HangUpReport.Method, confirmed: Bool) async throws {
        let bench = try await Bench(faults: faults)
        try await bench.session.initialize()
        _ = try await bench.session.dial(DialString("5551234"), timeout: .seconds(5))
        let report = await bench.session.hangUp()
        #expect(report.method == method, "\(report)")
        #expect(report.confirmed == confirmed)
        #expect(bench.bank.modems[0].isOffHook == !confirmed)
        // Every rung is bounded: well under the sum of the configured limits.
        let total = report.steps.reduce(Duration.zero) { $0 + $1.duration }
        #expect(total < .seconds(10))
        await bench.finish()
    }

    @Test("&D1: DTR drop leaves the call up in online-command mode; ATH then hangs up")
    func dtrOnlineCommand() async throws {
        let bench = try await Bench()
        try await bench.session.initialize(initStrings: ["ATE0 V1 X4 &D1"])
        _ = try await bench.session.dial(DialString("5551234"), timeout: .seconds(5))
        let report = await bench.session.hangUp()
        #expect(report.confirmed, "\(report)")
        #expect(report.method == .escape)
        #expect(!bench.bank.modems[0].isOffHook)
        await bench.finish()
    }

    @Test("carrier loss and unplug end the online wait with the right reason")
    func onlineEnds() async throws {
        let dropping = try await Bench(otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 9600", code: 1), carrierDropAfter: .milliseconds(200)))))
        try await dropping.session.initialize()
        _ = try await dropping.session.dial(DialString("5551234"), timeout: .seconds(5))
        #expect(try await dropping.session.waitForDisconnect() == .carrierLost)
        await dropping.finish()

        let unplugged = try await Bench(otherwise: CallOutcome(delay: .milliseconds(20), kind: .connect(ConnectSpec(
            result: ResultCode(text: "CONNECT 9600", code: 1), unplugAfter: .milliseconds(200)))))
        try await unplugged.session.initialize()
        _ = try await unplugged.session.dial(DialString("5551234"), timeout: .seconds(5))
        let end = try await unplugged.session.waitForDisconnect()
        guard case .deviceGone = end else {
            Issue.record("expected deviceGone, got \(end)")
            return
        }
        let report = await unplugged.session.hangUp()
        #expect(report.method == .deviceGone)
        await unplugged.finish()
    }

    @Test("a late NO CARRIER is not read as the answer to the next command")
    func lateResultsResync() async throws {
        let bench = try await Bench(faults: FaultSet(lateResults: .milliseconds(300)), otherwise: .result(.noCarrier, delay: .milliseconds(20)))
        try await bench.session.initialize()
        let outcome = try await bench.session.dial(DialString("5551234"), timeout: .seconds(3))
        #expect(outcome == .failed(.noCarrier) || outcome == .noResult(junk: []), "\(outcome)")
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await bench.session.send(.attention).final == .ok)
        await bench.finish()
    }
}
