import FakeModem
import Foundation
import Hayes
import RAS
import Serial
import Testing
import TestSupport

/// Every key PHONEBOOK.md documents changes what reaches the modem: one test per key, each
/// read from the fake modem's transcript (events, bytes from the computer, their times).
/// `RedialOnLinkFailure` and `RedialMaxSeconds` are proved the same way in
/// `ReconnectMachineTests.swift` (the manager and the fake modem); the listening-line keys in
/// `AnsweringTests`: `Answer` (the modem's `answer`), `AnswerAfterRings` (the rings before
/// it), `AllowCallers`/`RejectCallers` (no `ATA` for a rejected caller), `CallerIDInit` (the
/// command sent, or none), `ListenRecheckSeconds` (`ATZ` again), `ListenRetrySeconds` (the
/// attempts read at a silent pty), and `IncomingRetentionSeconds` (the listing).
@Suite("Phonebook keys on the wire")
struct PhonebookKeyWireTests {
    /// A phonebook with entry `E` made of `lines` (and `Port=` modem 0 unless `port` is nil).
    static func book(_ lines: [String], port: String?, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent("wire.pbk").path
        let text = (["[E]"] + (port.map { ["Port=\($0)"] } ?? []) + lines).joined(separator: "\n") + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Dials entry `E` on `lab`, waits for Connected or Disconnected; hangs up (and waits for
    /// error 6) when `hangUp`. Returns the notifications.
    @discardableResult
    static func dial(
        _ lines: [String], lab: ModemLab, port: String?? = .none, hangUp: Bool = true
    ) async throws -> [RasDialNotification] {
        let folder = try TestSupport.temporaryDirectory("wire")
        defer { TestSupport.remove(folder) }
        let book = try Self.book(lines, port: port ?? lab.port(), in: folder)
        let dial = try await lab.manager.dial(.entry("E", phonebookPath: book))
        let seen = await ModemLab.collect(dial.notifications)
        if hangUp { try await lab.hangUpAndWait(dial.handle) }
        return seen
    }

    /// Everything the computer sent to modem `index`, as text.
    static func sent(_ lab: ModemLab, modem index: Int = 0) -> String {
        lab.bank.modems[index].transcript.filter { $0.direction == .fromComputer }
            .map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
    }

    /// The times of modem events that start with `prefix`.
    static func times(_ lab: ModemLab, _ prefix: String, modem index: Int = 0) -> [Date] {
        lab.bank.modems[index].transcript.filter { $0.event?.hasPrefix(prefix) == true }.map(\.date)
    }

    /// The silence (no byte from the computer) before the first `+++` the computer sent.
    static func silenceBeforeEscape(_ lab: ModemLab) -> TimeInterval? {
        let sent = lab.bank.modems[0].transcript.filter { $0.direction == .fromComputer }
        guard let index = sent.firstIndex(where: { String(decoding: $0.bytes, as: UTF8.self).hasPrefix("+++") }), index > 0 else {
            return nil
        }
        return sent[index].date.timeIntervalSince(sent[index - 1].date)
    }

    // MARK: RAS keys

    @Test("PhoneNumber, InternationalPrefix, DialPrefix, ConnectBPS, HwFlowControl: each seen in the transcript", arguments: [
        ("PhoneNumber", ["PhoneNumber=5550001"], "dial 5550001"),
        ("InternationalPrefix", ["PhoneNumber=5551234", "CountryCode=39", "AreaCode=06", "UseDialingRules=1", "InternationalPrefix=011"],
         "dial 01139065551234"),
        ("DialPrefix", ["PhoneNumber=5551234", "DialPrefix=ATDP"], "command ATDP5551234"),
        ("ConnectBPS", ["PhoneNumber=5551234", "ConnectBPS=9600"], "line-settings speed=9600 crtscts=off"),
        ("HwFlowControl", ["PhoneNumber=5551234", "HwFlowControl=1"], "line-settings speed=115200 crtscts=on"),
    ])
    func oneEvent(key: String, lines: [String], expected: String) async throws {
        let lab = try await ModemLab()
        try await Self.dial(lines, lab: lab)
        let events = lab.bank.modems[0].events
        let kind = expected.prefix { $0 != " " }
        #expect(events.first { $0.hasPrefix(kind + " ") && (kind != "command" || $0.hasPrefix("command ATD")) } == expected,
                "\(key): \(events)")
        await lab.finish()
    }

    @Test("UseCountryAndAreaCodes / UseDialingRules, CountryCode, AreaCode: the dialing rules", arguments: [
        "UseCountryAndAreaCodes", "UseDialingRules",
    ])
    func dialingRules(key: String) async throws {
        let lab = try await ModemLab()
        let entry = ["PhoneNumber=5551234", "CountryCode=39", "AreaCode=06"]
        try await Self.dial(entry + ["\(key)=1"], lab: lab)
        try await Self.dial(entry + ["\(key)=0"], lab: lab)
        let dials = lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }
        #expect(dials == ["dial 0039065551234", "dial 5551234"])
        await lab.finish()
    }

    @Test("Port: which modem dials")
    func port() async throws {
        let lab = try await ModemLab(count: 2)
        try await Self.dial(["PhoneNumber=5551234"], lab: lab, port: lab.port(1))
        #expect(lab.bank.modems[1].events.contains("dial 5551234"))
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("dial") })
        await lab.finish()
    }

    @Test("Device: the modem named (in any case) dials")
    func device() async throws {
        let lab = try await ModemLab(count: 2, deviceNames: ["usr-56k", "zoom-3049"])
        try await Self.dial(["PhoneNumber=5551234", "Device=ZOOM-3049"], lab: lab, port: .some(nil))
        #expect(lab.bank.modems[1].events.contains("dial 5551234"))
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("dial") })
        await lab.finish()
    }

    @Test("RedialAttempts: a busy line is dialed again")
    func redialAttempts() async throws {
        let lab = try await ModemLab(otherwise: .result(.busy, delay: .milliseconds(20)))
        try await Self.dial(["PhoneNumber=5551234", "RedialAttempts=2", "RedialSeconds=0"], lab: lab, hangUp: false)
        #expect(await TestSupport.eventually { lab.bank.modems[0].events.filter { $0.hasPrefix("dial ") }.count == 3 })
        await lab.finish()
    }

    @Test("RedialSeconds: the pause before a redial")
    func redialSeconds() async throws {
        let lab = try await ModemLab(otherwise: .result(.busy, delay: .milliseconds(20)))
        try await Self.dial(["PhoneNumber=5551234", "RedialAttempts=1", "RedialSeconds=1"], lab: lab, hangUp: false)
        let dials = Self.times(lab, "dial ")
        #expect(dials.count == 2)
        if dials.count == 2 { #expect(dials[1].timeIntervalSince(dials[0]) >= 1.0, "\(dials)") }
        await lab.finish()
    }

    @Test("IdleDisconnectSeconds: an idle line is hung up")
    func idleDisconnect() async throws {
        let lab = try await ModemLab()
        let seen = try await Self.dial(["PhoneNumber=5551234", "IdleDisconnectSeconds=1"], lab: lab, hangUp: false)
        #expect(seen.last?.state == .connected)
        #expect(await TestSupport.eventually(timeout: .seconds(6)) { !lab.bank.modems[0].isOffHook },
                "the modem was hung up with no client asking")
        let connected = Self.times(lab, "connect ").first
        let onHook = Self.times(lab, "on-hook").first
        if let connected, let onHook { #expect(onHook.timeIntervalSince(connected) >= 1.0) }
        await lab.finish()
    }

    // MARK: swift-ras keys

    @Test("InitString: each line is sent, in order, after ATZ")
    func initString() async throws {
        let lab = try await ModemLab()
        try await Self.dial(["PhoneNumber=5551234", "InitString=ATE0 V1 S7=45", "InitString=ATS11=60"], lab: lab)
        let commands = lab.bank.modems[0].events.filter { $0.hasPrefix("command ") }
        #expect(commands.prefix(6) == ["command AT", "command ATZ", "command AT", "command ATE0 V1 S7=45", "command ATS11=60", "command ATS12?"])
        #expect(!commands.contains("command \(ModemSession.defaultInitString)"), "the default is replaced")
        await lab.finish()
    }

    @Test("no InitString: the one default init string is sent")
    func defaultInitString() async throws {
        let lab = try await ModemLab()
        try await Self.dial(["PhoneNumber=5551234"], lab: lab)
        #expect(lab.bank.modems[0].events.contains("command ATE0 Q0 V1 X4 &C1 &D2 S0=0"))
        #expect(RasDialSettings.defaultInitString == ModemSession.defaultInitString)
        await lab.finish()
    }

    @Test("DialTimeoutSeconds: an unanswered dial is aborted after it")
    func dialTimeout() async throws {
        let lab = try await ModemLab(otherwise: CallOutcome(kind: .silence))
        let seen = try await Self.dial(["PhoneNumber=5551234", "DialTimeoutSeconds=1"], lab: lab, hangUp: false)
        #expect(seen.last?.state == .disconnected)
        let dial = Self.times(lab, "dial ").first
        let abort = Self.times(lab, "on-hook").first
        #expect(abort != nil, "the dial was aborted on the modem: \(lab.bank.modems[0].events)")
        if let dial, let abort { #expect(abort.timeIntervalSince(dial) >= 1.0) }
        await lab.finish()
    }

    @Test("InitTimeoutSeconds: how long an init line may take")
    func initTimeout() async throws {
        var timing = ModemLab.fastTiming
        // A modem this slow (and silent under E0) would be taken for one losing commands:
        // tell the session up front, as it would learn after the first repeat.
        timing.wake = .seconds(3)
        timing.lostCommandWindow = .seconds(3)
        let slow = ModemLab.modem(FaultSet(slowResponses: .milliseconds(1200)))
        let lab = try await ModemLab(modem: slow, timing: timing)
        let failed = try await Self.dial(["PhoneNumber=5551234", "InitTimeoutSeconds=1"], lab: lab)
        #expect(failed.last?.state == .disconnected)
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("dial ") }, "the init line timed out")

        let patientLab = try await ModemLab(modem: slow, timing: timing)
        let patient = try await Self.dial(["PhoneNumber=5551234", "InitTimeoutSeconds=2"], lab: patientLab)
        #expect(patient.last?.state == .connected, "\(patient.map(\.state))")
        #expect(patientLab.bank.modems[0].events.contains("dial 5551234"))
        await lab.finish()
        await patientLab.finish()
    }

    @Test("HangUpGuardMilliseconds: the silence before +++; without it the modem's S12")
    func hangUpGuard() async throws {
        var timing = ModemLab.fastTiming
        timing.escapeGuard = nil
        var modem = ModemLab.modem(FaultSet(ignoresDTR: true))
        modem.registers[12] = 15
        let lab = try await ModemLab(modem: modem, timing: timing)
        try await Self.dial(["PhoneNumber=5551234", "HangUpGuardMilliseconds=700"], lab: lab)
        let configured = Self.silenceBeforeEscape(lab)
        #expect((configured ?? 0) >= 0.7, "silence before +++: \(String(describing: configured))")
        await lab.finish()

        let other = try await ModemLab(modem: modem, timing: timing)
        try await Self.dial(["PhoneNumber=5551234"], lab: other)
        let fromS12 = Self.silenceBeforeEscape(other)
        #expect((fromS12 ?? 0) >= 0.3, "S12 = 15 is 300 ms: \(String(describing: fromS12))")
        #expect(other.bank.modems[0].events.contains("escape"), "the modem took +++ after its own guard time")
        #expect(!other.bank.modems[0].isOffHook)
        await other.finish()
    }

    @Test("InterCommandMilliseconds: the pause between commands, for a modem that loses commands sent too soon")
    func interCommand() async throws {
        let lab = try await ModemLab(modem: ModemLab.modem(FaultSet(minimumCommandGap: .milliseconds(60))))
        CommandPacing.forget(lab.port())
        try await Self.dial(["PhoneNumber=5551234", "InterCommandMilliseconds=100"], lab: lab)
        #expect(!lab.bank.modems[0].events.contains { $0.hasPrefix("fault lost-input") }, "\(lab.bank.modems[0].events)")
        await lab.finish()

        let unpaced = try await ModemLab(modem: ModemLab.modem(FaultSet(minimumCommandGap: .milliseconds(60))))
        CommandPacing.forget(unpaced.port())
        try await Self.dial(["PhoneNumber=5551234"], lab: unpaced)
        #expect(unpaced.bank.modems[0].events.contains { $0.hasPrefix("fault lost-input too-soon") }, "without it a command is lost first")
        CommandPacing.forget(unpaced.port())
        await unpaced.finish()
    }

    // MARK: PPP keys (pppd's stand-in speaks on the line)

    static func pppEntry(in folder: URL, framing: String = "PPP", pppd: String = PPPHandOffTests.standIn, options: String = "noauth") throws -> [String] {
        let password = folder.appendingPathComponent("password").path
        try "s3cret\n".write(toFile: password, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: password)
        return ["PhoneNumber=5551234", "Framing=\(framing)", "PppdPath=\(pppd)", "PppdOptions=\(options)",
                "User=alice", "PasswordFile=\(password)"]
    }

    @Test("Framing: PPP runs pppd on the line; None leaves it quiet", arguments: ["PPP", "None"])
    func framing(framing: String) async throws {
        let folder = try TestSupport.temporaryDirectory("wire-ppp")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let seen = try await Self.dial(try Self.pppEntry(in: folder, framing: framing), lab: lab)
        #expect(seen.last?.state == .connected)
        #expect(Self.sent(lab).contains("LCP-REQ") == (framing == "PPP"))
        await lab.finish()
    }

    @Test("PppdPath: which pppd speaks on the line")
    func pppdPath() async throws {
        let folder = try TestSupport.temporaryDirectory("wire-pppd")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        let missing = try await Self.dial(try Self.pppEntry(in: folder, pppd: folder.appendingPathComponent("no-pppd").path), lab: lab)
        #expect(missing.last?.state == .disconnected)
        #expect(!Self.sent(lab).contains("LCP-REQ"))
        try await Self.dial(try Self.pppEntry(in: folder), lab: lab)
        #expect(Self.sent(lab).contains("LCP-REQ"))
        await lab.finish()
    }

    @Test("PppdOptions: reach pppd, which acts on them on the line")
    func pppdOptions() async throws {
        let folder = try TestSupport.temporaryDirectory("wire-options")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        try await Self.dial(try Self.pppEntry(in: folder, options: "noauth say OPTION-REACHED"), lab: lab)
        #expect(await TestSupport.eventually { Self.sent(lab).contains("OPTION-REACHED") } || Self.sent(lab).contains("OPTION-REACHED"))
        await lab.finish()
    }

    @Test("User and PasswordFile: PAP on the line carries them")
    func userAndPassword() async throws {
        let folder = try TestSupport.temporaryDirectory("wire-pap")
        defer { TestSupport.remove(folder) }
        let lab = try await ModemLab()
        try await Self.dial(try Self.pppEntry(in: folder), lab: lab)
        #expect(Self.sent(lab).contains("PAP alice:s3cret"))
        await lab.finish()
    }
}
