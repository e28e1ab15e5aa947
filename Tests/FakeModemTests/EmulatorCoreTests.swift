import FakeModem
import Testing

/// A `ModemEmulator` driven on a made-up clock: no pty, no waiting.
struct VirtualModem {
    var emulator: ModemEmulator
    var now = ContinuousClock.now
    private(set) var output: [UInt8] = []
    private(set) var events: [String] = []
    private(set) var others: [ModemEffect] = []

    init(_ settings: ModemSettings = ModemSettings()) {
        emulator = ModemEmulator(settings: settings, at: now)
    }

    mutating func type(_ text: String, after delay: Duration = .zero) {
        type(bytes: Array(text.utf8), after: delay)
    }

    mutating func type(bytes: [UInt8], after delay: Duration = .zero) {
        now += delay
        emulator.receive(bytes, at: now)
        collect()
    }

    mutating func wait(_ duration: Duration) {
        now += duration
        emulator.advance(to: now)
        collect()
    }

    mutating func route(_ route: CallRoute) {
        emulator.routeCall(route, at: now)
        collect()
    }

    mutating func collect() {
        for effect in emulator.takeEffects() {
            switch effect {
            case .output(let bytes): output += bytes
            case .event(let text): events.append(text)
            default: others.append(effect)
            }
        }
    }

    /// The output since the last call, as text.
    mutating func take() -> String {
        defer { output.removeAll() }
        return String(decoding: output, as: UTF8.self)
    }

    mutating func takeOthers() -> [ModemEffect] {
        defer { others.removeAll() }
        return others
    }
}

@Suite("Emulator core, on a virtual clock")
struct EmulatorCoreTests {
    @Test("AT answers OK with echo; V0 answers 0<CR>")
    func basicFraming() {
        var modem = VirtualModem()
        modem.type("AT\r")
        #expect(modem.take() == "AT\r\r\nOK\r\n")
        modem.type("ATE0V0\r")
        #expect(modem.take() == "ATE0V0\r0\r")
        modem.type("ATI3\r")
        #expect(modem.take() == "FakeModem V1.0\r\n0\r")
    }

    @Test("Bytes split across reads still make one command line")
    func splitLine() {
        var modem = VirtualModem()
        modem.type("A")
        modem.type("T")
        modem.type("E0")
        modem.type("\r")
        #expect(modem.take() == "ATE0\r\r\nOK\r\n")
        #expect(modem.events.contains("command ATE0"))
    }

    @Test("A plan is played on schedule: delay, intermediate lines, CONNECT")
    func scriptedCall() {
        var modem = VirtualModem()
        modem.type("ATE0DT555-1234\r")
        #expect(modem.take() == "ATE0DT555-1234\r")
        #expect(modem.takeOthers() == [.placeCall("5551234")])
        let outcome = CallOutcome(
            delay: .milliseconds(300),
            progress: [ProgressLine("CARRIER 33600"), ProgressLine("PROTOCOL: LAPM", delay: .milliseconds(100))],
            kind: .connect(ConnectSpec(result: ResultCode(text: "CONNECT 33600", code: 1))))
        modem.route(.scripted(outcome))
        modem.wait(.milliseconds(299))
        #expect(modem.take() == "")
        modem.wait(.milliseconds(1))
        #expect(modem.take() == "\r\nCARRIER 33600\r\n")
        modem.wait(.milliseconds(100))
        #expect(modem.take() == "\r\nPROTOCOL: LAPM\r\n\r\nCONNECT 33600\r\n")
        #expect(modem.emulator.mode == .online)
        modem.type("data")
        #expect(modem.take() == "data")
    }

    @Test("A connect later than S7 becomes NO CARRIER at S7")
    func carrierWaitCap() {
        var modem = VirtualModem()
        modem.type("ATS7=1D5\r")
        modem.route(.scripted(.connect("CONNECT 9600", delay: .seconds(3))))
        _ = modem.take()
        modem.wait(.milliseconds(999))
        #expect(modem.take() == "")
        modem.wait(.milliseconds(1))
        #expect(modem.take() == "\r\nNO CARRIER\r\n")
        #expect(!modem.emulator.isOffHook)
    }

    @Test("The escape needs the guard time before and after, and each + within it")
    func escapeTiming() {
        var modem = VirtualModem()
        modem.type("ATS12=25D1\r")
        modem.route(.scripted(.connect("CONNECT 9600", delay: .zero)))
        _ = modem.take()
        // 499 ms of silence is too little.
        modem.type("+++", after: .milliseconds(499))
        modem.wait(.seconds(1))
        #expect(modem.emulator.mode == .online)
        // After 500 ms of silence, and 500 ms after: accepted, exactly at 500 ms.
        modem.type("+++", after: .milliseconds(500))
        modem.wait(.milliseconds(499))
        #expect(modem.emulator.mode == .online)
        modem.wait(.milliseconds(1))
        #expect(modem.emulator.mode == .onlineCommand)
        #expect(modem.take().hasSuffix("+++\r\nOK\r\n"))
        modem.type("ATO\r")
        #expect(modem.take() == "ATO\r\r\nCONNECT 9600\r\n")
        // A byte 499 ms after the third + cancels it.
        modem.type("+++", after: .seconds(1))
        modem.type("x", after: .milliseconds(499))
        modem.wait(.seconds(2))
        #expect(modem.emulator.mode == .online)
        // The + characters spaced 501 ms apart are no escape; spaced 500 ms they are.
        modem.type("+", after: .seconds(1))
        modem.type("+", after: .milliseconds(501))
        modem.type("+", after: .milliseconds(501))
        modem.wait(.seconds(2))
        #expect(modem.emulator.mode == .online)
        modem.type("+", after: .seconds(1))
        modem.type("+", after: .milliseconds(500))
        modem.type("+", after: .milliseconds(500))
        modem.wait(.seconds(1))
        #expect(modem.emulator.mode == .onlineCommand)
    }

    @Test("DCD: &C1 follows the carrier (online and online-command, not once it is lost), &C0 is always on, unplugged off")
    func carrierDetect() {
        var modem = VirtualModem()
        #expect(!modem.emulator.isCarrierDetected)
        modem.type("ATS12=10D1\r")
        #expect(modem.emulator.mode == .dialing && !modem.emulator.isCarrierDetected)
        modem.route(.scripted(.connect("CONNECT 9600", delay: .zero)))
        #expect(modem.emulator.mode == .online && modem.emulator.isCarrierDetected)
        modem.type("+++", after: .milliseconds(300))
        modem.wait(.milliseconds(300))
        #expect(modem.emulator.mode == .onlineCommand && modem.emulator.isCarrierDetected)
        modem.type("ATO\r")
        modem.emulator.remoteHungUp(at: modem.now)
        modem.collect()
        // The carrier is gone at once; NO CARRIER and on-hook follow after S10.
        #expect(modem.emulator.mode == .online && !modem.emulator.isCarrierDetected)
        modem.wait(.seconds(2))
        #expect(modem.emulator.mode == .command)
        modem.type("AT&C0\r")
        #expect(modem.emulator.isCarrierDetected)
        modem.emulator.unplug(at: modem.now)
        #expect(!modem.emulator.isCarrierDetected)
    }

    @Test("A byte after the after-silence does not undo an escape that is due")
    func escapeDueBeforeByte() {
        var modem = VirtualModem()
        modem.type("ATS12=10D1\r")
        modem.route(.scripted(.connect("CONNECT 9600", delay: .zero)))
        modem.type("+++", after: .milliseconds(300))
        // No timer ran, but this byte comes 250 ms later: the escape happened first, so
        // the byte is the start of a command.
        modem.type("A", after: .milliseconds(250))
        #expect(modem.emulator.mode == .onlineCommand)
    }

    @Test("Result levels: what X0…X4 report for each call result")
    func resultLevels() {
        let expected: [(String, [String])] = [
            ("BUSY", ["NO CARRIER", "NO CARRIER", "NO CARRIER", "BUSY", "BUSY"]),
            ("NO DIALTONE", ["NO CARRIER", "NO CARRIER", "NO DIALTONE", "NO CARRIER", "NO DIALTONE"]),
            ("NO ANSWER", ["NO CARRIER", "NO ANSWER", "NO ANSWER", "NO ANSWER", "NO ANSWER"]),
            ("CONNECT 2400", ["CONNECT", "CONNECT 2400", "CONNECT 2400", "CONNECT 2400", "CONNECT 2400"]),
            ("DELAYED", ["ERROR", "ERROR", "ERROR", "ERROR", "DELAYED"]),
            ("NO CARRIER", ["NO CARRIER", "NO CARRIER", "NO CARRIER", "NO CARRIER", "NO CARRIER"]),
        ]
        for (text, byLevel) in expected {
            guard let result = ResultCode(standard: text) else {
                Issue.record("\(text) is not standard")
                continue
            }
            #expect((0...4).map { result.adjusted(forResultLevel: $0).text } == byLevel, "\(text)")
        }
    }

    @Test("Standard numeric codes, vendor table for CONNECT rates")
    func standardCodes() {
        #expect(ResultCode.standardCode(for: "CONNECT 2400") == 10)
        #expect(ResultCode.standardCode(for: "CONNECT 1200") == 5)
        #expect(ResultCode.standardCode(for: "CONNECT 115200/V42") == 19)
        #expect(ResultCode.standardCode(for: "CONNECT 33,600") == 1)
        #expect(ResultCode.standardCode(for: "NO DIAL TONE") == 6)
        #expect(ResultCode.standardCode(for: "VOICE") == nil)
    }

    @Test("Incoming call: RING every interval, auto-answer after S0 rings")
    func autoAnswer() {
        var modem = VirtualModem(ModemSettings(registers: [0: 3], ringInterval: .seconds(2)))
        modem.type("ATE0\r")
        _ = modem.take()
        let accepted = modem.emulator.incomingCall(IncomingCall(connect: ConnectSpec(result: ResultCode(text: "CONNECT 9600", code: 12), data: .peer), handshake: .milliseconds(100)), at: modem.now)
        #expect(accepted)
        modem.collect()
        #expect(modem.take() == "\r\nRING\r\n")
        modem.wait(.seconds(2))
        #expect(modem.take() == "\r\nRING\r\n")
        #expect(modem.emulator.registers[1] == 2)
        modem.wait(.seconds(2))
        #expect(modem.take() == "\r\nRING\r\n")
        #expect(modem.takeOthers() == [.answered])
        #expect(modem.emulator.mode == .answering)
        modem.wait(.milliseconds(100))
        #expect(modem.take() == "\r\nCONNECT 9600\r\n")
        #expect(modem.takeOthers() == [.connected])
        #expect(modem.events.contains("answer auto"))
    }

    @Test("A busy modem refuses an incoming call")
    func refusesWhenOffHook() {
        var modem = VirtualModem()
        modem.type("ATH1\r")
        let accepted = modem.emulator.incomingCall(IncomingCall(connect: ConnectSpec(result: .connect)), at: modem.now)
        #expect(!accepted)
    }

    @Test("Profile strings are checked")
    func profileCheck() {
        #expect(ModemEmulator.problem(withProfile: "E0 V0 &D3 S7=30 +FCLASS=0") == nil)
        #expect(ModemEmulator.problem(withProfile: "E0 D123") != nil)
        #expect(ModemEmulator.problem(withProfile: "X9") != nil)
        var modem = VirtualModem(ModemSettings(profile: "E0 V0"))
        modem.type("AT\r")
        #expect(modem.take() == "0\r")
    }

    @Test("Slave closed with HUPCL drops DTR after S25; reopening raises it")
    func hupclClose() {
        var modem = VirtualModem()
        modem.type("ATD1\r")
        modem.route(.scripted(.connect("CONNECT 9600", delay: .zero)))
        modem.emulator.slaveClosed(hangUpOnClose: true, at: modem.now)
        modem.collect()
        #expect(modem.emulator.isOffHook)
        modem.wait(.milliseconds(50))
        #expect(!modem.emulator.isOffHook)
        #expect(modem.events.suffix(4) == ["slave-closed hupcl=yes", "dtr-drop", "on-hook dtr", "result NO CARRIER"])
        modem.emulator.slaveOpened(at: modem.now)
        modem.collect()
        #expect(modem.emulator.isDTRRaised)
    }
}
