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

        init(
            faults: FaultSet = FaultSet(), profile: String = "", s12: Int = 10,
            otherwise: CallOutcome = .connect("CONNECT 33600", delay: .milliseconds(30)),
            timing: ModemTiming = ModemSessionTests.timing
        ) async throws {
            var modem = ModemSettings()
            modem.registers[12] = s12
            modem.faults = faults
            modem.profile = profile
            bank = try FakeModemBank(scenario: Scenario(modemDefaults: modem, otherwise: otherwise))
            try await bank.start()
            CommandPacing.forget(bank.modems[0].slavePath)
            port = try SerialPort(path: bank.modems[0].slavePath)
            session = ModemSession(port: port, timing: timing, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
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
        // Silent to AT and ATQ0V1E0, to a DTR drop and to +++/ATH: nothing more to try.
        await #expect(throws: ModemError.noResponse(command: "AT")) { try await dead.session.initialize() }
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

    // MARK: Readiness instead of fixed waits

    @Test("after ATZ the modem is asked whether it is ready: nothing is lost to one still resetting")
    func readinessAfterReset() async throws {
        let bench = try await Bench(faults: FaultSet(busyAfterReset: .milliseconds(300)))
        try await bench.session.initialize()
        let events = bench.bank.modems[0].events
        #expect(events.contains("fault lost-input busy-after-reset"), "the modem was still resetting: \(events)")
        // The readiness AT took the loss; the init line itself was never lost or sent twice.
        let initLines = events.filter { $0.hasPrefix("command ATE0") }
        #expect(initLines.count == 1, "\(events)")
        #expect(await bench.session.pacing.interCommand == .zero, "nothing was learned: no command was lost")
        await bench.finish()
    }

    @Test("a well-behaved modem gets no pause, no repeat and no loss: AT, ATZ, AT, init, S12?")
    func noPausesByDefault() async throws {
        let bench = try await Bench()
        try await bench.session.initialize()
        let commands = bench.bank.modems[0].events.filter { $0.hasPrefix("command ") || $0.hasPrefix("fault") }
        #expect(commands == ["command AT", "command ATZ", "command AT", "command ATE0 Q0 V1 X4 &C1 &D2 S0=0", "command ATS12?"])
        #expect(await bench.session.pacing.interCommand == .zero)
        await bench.finish()
    }

    @Test("a modem that loses commands sent too soon teaches its pause, and the port remembers it")
    func learnedPacing() async throws {
        let bench = try await Bench(faults: FaultSet(minimumCommandGap: .milliseconds(60)))
        try await bench.session.initialize()
        let learned = await bench.session.pacing.interCommand
        #expect(learned >= .milliseconds(60), "learned \(learned)")
        #expect(bench.bank.modems[0].events.contains("fault lost-input too-soon"))
        #expect(CommandPacing.learned(for: bench.port.path)?.interCommand == learned)
        bench.port.close()

        // The next session on the same port (once the modem is idle) starts with what was
        // learned: nothing is lost.
        let port = try SerialPort(path: bench.bank.modems[0].slavePath)
        let mark = bench.bank.modems[0].transcriptMark
        try await Task.sleep(for: .milliseconds(100))
        let again = ModemSession(port: port, timing: Self.timing)
        #expect(await again.pacing.interCommand == learned)
        try await again.initialize()
        let outcome = try await again.dial(DialString("5551234"), timeout: .seconds(5))
        #expect(outcome != .noResult(junk: []))
        let events = bench.bank.modems[0].events(after: mark)
        #expect(!events.contains { $0.hasPrefix("fault lost-input") }, "\(events)")
        _ = await again.hangUp()
        port.close()
        CommandPacing.forget(bench.bank.modems[0].slavePath)
        await bench.bank.stop()
    }

    @Test("a slow modem (silent under E0) is not mistaken for one that loses commands")
    func slowModemIsNotPaced() async throws {
        let bench = try await Bench(faults: FaultSet(slowResponses: .milliseconds(300)))
        try await bench.session.initialize()
        let s7 = try await bench.session.expectOK(ATCommand(.queryRegister(7)))
        #expect(s7.info == ["050"], "every answer belongs to its command")
        let pacing = await bench.session.pacing
        #expect(pacing.interCommand == .zero, "\(pacing)")
        #expect(pacing.lossWindow >= .milliseconds(300), "\(pacing)")
        let events = bench.bank.modems[0].events
        #expect(events.filter { $0 == "command ATS7?" }.count == 1, "a command after the lesson is sent once: \(events)")
        await bench.finish()
    }

    @Test("InterCommandMilliseconds-style pacing given up front is kept between every command")
    func configuredPacing() async throws {
        var timing = Self.timing
        timing.interCommand = .milliseconds(80)
        let bench = try await Bench(faults: FaultSet(minimumCommandGap: .milliseconds(60)), timing: timing)
        try await bench.session.initialize()
        #expect(!bench.bank.modems[0].events.contains { $0.hasPrefix("fault lost-input") })
        #expect(await bench.session.pacing.interCommand == .milliseconds(80))
        await bench.finish()
    }

    @Test("the modem's own guard time (S12) is read at init and used for +++", arguments: [10, 25])
    func guardTimeFromS12(s12: Int) async throws {
        var timing = Self.timing
        timing.escapeGuard = nil
        let bench = try await Bench(faults: FaultSet(ignoresDTR: true), s12: s12, timing: timing)
        try await bench.session.initialize()
        #expect(await bench.session.guardTime == .milliseconds(s12 * 20))
        #expect(await bench.session.escapeGuard == .milliseconds(s12 * 20) + timing.guardMargin)
        _ = try await bench.session.dial(DialString("5551234"), timeout: .seconds(5))
        let report = await bench.session.hangUp()
        #expect(report.method == .escape && report.confirmed, "\(report)")
        #expect(!bench.bank.modems[0].isOffHook)
        #expect(bench.bank.modems[0].events.contains("escape"))
        await bench.finish()
    }

    @Test("DTR stays low only until the modem confirms on-hook")
    func dtrConfirmed() async throws {
        var timing = Self.timing
        timing.dtrDrop = .seconds(5)
        timing.escapeGuard = .milliseconds(100)
        let bench = try await Bench(timing: timing)
        try await bench.session.initialize()
        _ = try await bench.session.dial(DialString("5551234"), timeout: .seconds(5))
        let report = await bench.session.hangUp()
        #expect(report.method == .dtr && report.confirmed, "\(report)")
        let dtr = report.steps.first { $0.name == "dtr" }
        #expect(dtr?.outcome == "speedZero: on-hook", "\(report)")
        // The hold limit is 5 s; the modem confirmed long before it.
        #expect((dtr?.duration ?? .seconds(5)) < .seconds(5))
        await bench.finish()
    }

    /// Another program dials and exits without hanging up (no HUPCL: DTR stays up), as chat
    /// does after CONNECT or a killed pppd.
    static func leaveOnline(_ path: String) async throws {
        var options = SerialOptions()
        options.hangUpOnClose = false
        let other = try SerialPort(path: path, options: options)
        try await other.write(Array("ATDT5551234\r".utf8), deadline: .now + .seconds(2))
        var heard = ""
        let deadline = ContinuousClock.now + .seconds(3)
        while !heard.contains("CONNECT"), ContinuousClock.now < deadline {
            heard += String(decoding: try await other.read(deadline: deadline), as: UTF8.self)
        }
        other.close()
        #expect(heard.contains("CONNECT"), "the other program got \(heard)")
    }

    @Test("a modem left online by another program is recovered, not reported dead", arguments: [false, true])
    func leftOnline(ignoresDTR: Bool) async throws {
        var modem = ModemSettings()
        modem.registers[12] = 10
        modem.faults.ignoresDTR = ignoresDTR
        let bank = try FakeModemBank(scenario: Scenario(modemDefaults: modem, otherwise: .connect("CONNECT 33600", delay: .milliseconds(30))))
        try await bank.start()
        try await Self.leaveOnline(bank.modems[0].slavePath)
        try await Task.sleep(for: .milliseconds(50))
        #expect(bank.modems[0].isOffHook, "the other program left the modem online")

        let port = try SerialPort(path: bank.modems[0].slavePath)
        let session = ModemSession(port: port, timing: Self.timing)
        try await session.initialize()
        let outcome = try await session.dial(DialString("5551234"), timeout: .seconds(5))
        guard case .connected = outcome else {
            Issue.record("expected CONNECT after the recovery, got \(outcome)")
            port.close()
            await bank.stop()
            return
        }
        let events = bank.modems[0].events
        #expect(events.contains(ignoresDTR ? "escape" : "dtr-drop"), "\(events)")
        _ = await session.hangUp()
        port.close()
        await bank.stop()
    }

    // MARK: Incoming calls

    @Test("an incoming call is seen ring by ring and answered with ATA; ATA with no call gets NO CARRIER")
    func answering() async throws {
        var modem = ModemSettings()
        modem.registers[12] = 10
        modem.registers[7] = 1
        modem.ringInterval = .milliseconds(200)
        let bank = try FakeModemBank(scenario: Scenario(modemDefaults: modem), count: 2)
        try await bank.start()
        let callerPort = try SerialPort(path: bank.modems[0].slavePath)
        let calleePort = try SerialPort(path: bank.modems[1].slavePath)
        let caller = ModemSession(port: callerPort, timing: Self.timing)
        let callee = ModemSession(port: calleePort, timing: Self.timing)
        try await caller.initialize()
        try await callee.initialize()

        #expect(try await callee.answer(timeout: .seconds(5)) == .failed(.noCarrier), "no call rings: no carrier")
        #expect(await callee.mode == .command)

        async let dialed = caller.dial(DialString(bank.modems[1].number), timeout: .seconds(10))
        var rings = 0
        while rings < 2, let event = try await callee.nextIncoming(until: .now + .seconds(5)) {
            if event == .ring { rings += 1 }
        }
        #expect(rings == 2)
        let answered = try await callee.answer(timeout: .seconds(10))
        let outcome = try await dialed
        guard case .connected = answered, case .connected = outcome else {
            Issue.record("answered \(answered), dialed \(outcome)")
            callerPort.close()
            calleePort.close()
            await bank.stop()
            return
        }
        #expect(await callee.mode == .online)
        #expect(bank.modems[1].events.contains("command ATA"))
        let report = await callee.hangUp()
        #expect(report.confirmed, "\(report)")
        _ = await caller.hangUp()
        callerPort.close()
        calleePort.close()
        await bank.stop()
    }
}
