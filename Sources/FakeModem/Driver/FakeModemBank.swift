import Serial

/// An error from a bank of fake modems.
public enum FakeModemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Creating or using a pty failed.
    case serial(SerialError)
    /// The scenario and the bank do not fit together (a `ring:` route names no modem, two
    /// modems share a name or number, a profile string is invalid…).
    case configuration(String)
    /// The transcript file could not be created.
    case transcript(path: String, reason: String)
    /// The bank (or the network front end) was already stopped.
    case stopped
    /// A network front end could not listen (address in use, not local, unresolvable…),
    /// or its address is not of the form it takes.
    case network(String)

    public var description: String {
        switch self {
        case .serial(let error): "pty: \(error)"
        case .configuration(let message): message
        case .transcript(let path, let reason): "transcript \(path): \(reason)"
        case .stopped: "the fake modem bank was stopped"
        case .network(let message): message
        }
    }
}

/// Several fake modems on one phone exchange, each on its own pseudo-terminal, served in
/// this process.
///
/// ```swift
/// let bank = try FakeModemBank(scenario: try Scenario(contentsOf: url), count: 2)
/// try await bank.start()
/// let port = try SerialPort(path: bank.modems[0].slavePath)
/// // … drive it with AT commands …
/// #expect(bank.modems[0].isOffHook == false)
/// await bank.stop()
/// ```
///
/// Modem `i` takes its settings from ``Scenario/settings(forModemAt:)``: by default it is
/// named `modem<i>` and rung by dialing `1000 + i`. Each slave starts with a serial port's
/// power-on termios (9600 8N1, `CREAD HUPCL CLOCAL`): a program that closes it without
/// clearing `HUPCL` drops DTR, as on a real port. Call ``stop()`` when done: it ends
/// every task and closes every pty (the slaves then read end-of-file).
public final class FakeModemBank: Sendable {
    /// The scenario the bank runs.
    public let scenario: Scenario
    /// The modems, in order.
    public let modems: [EmulatedModem]
    private let engine: BankEngine

    /// Creates the ptys and the modems; nothing runs until ``start()``.
    ///
    /// - Parameters:
    ///   - scenario: the exchange and the modems' settings.
    ///   - count: how many modems; `nil` for as many as the scenario lists (at least one).
    ///   - transcriptPath: a file to write the transcript to, line by line (created or
    ///     truncated).
    ///   - transcriptLimit: how many transcript entries are kept in memory (the oldest go).
    public init(
        scenario: Scenario = .default, count: Int? = nil, transcriptPath: String? = nil, transcriptLimit: Int = 100_000
    ) throws(FakeModemError) {
        let count = count ?? max(1, scenario.modems.count)
        guard count >= 1 else { throw .configuration("a bank needs at least one modem, asked for \(count)") }
        let settings = (0..<count).map { scenario.settings(forModemAt: $0) }
        try FakeModemBank.check(scenario, settings)
        let recorder = try TranscriptRecorder(path: transcriptPath, limit: transcriptLimit)
        var ptys: [PseudoTerminal] = []
        do {
            for _ in 0..<count {
                let pty = try PseudoTerminal()
                ptys.append(pty)
                try pty.setSlavePowerOnSettings()
            }
        } catch {
            for pty in ptys { pty.close() }
            recorder.close()
            throw .serial(error)
        }
        let names = settings.map { $0.name ?? "" }
        let exchange = PhoneExchange(scenario: scenario, names: names, numbers: settings.map { $0.number ?? "" })
        let engine = BankEngine(ptys: ptys, settings: settings, exchange: exchange, recorder: recorder)
        self.engine = engine
        self.scenario = scenario
        modems = settings.indices.map { index in
            EmulatedModem(index: index, name: names[index], number: settings[index].number ?? "",
                          slavePath: ptys[index].slavePath, engine: engine)
        }
    }

    deinit {
        // A bank dropped without stop(): end the tasks and close the masters anyway.
        for task in engine.shutDown() { task.cancel() }
        for pty in engine.ptys { pty.close() }
        engine.recorder.close()
    }

    /// Starts serving: from now on the modems answer on their slaves.
    /// - Throws: ``FakeModemError/stopped`` after ``stop()``.
    public func start() async throws(FakeModemError) {
        try engine.start()
    }

    /// Stops serving: ends every task, closes every pty master (the slaves hang up) and
    /// the transcript file. Waits until all of it is done.
    public func stop() async {
        await engine.stop()
    }

    /// The modem with this name.
    public subscript(name: String) -> EmulatedModem? { modems.first { $0.name == name } }

    /// The whole transcript kept in memory, all modems interleaved, oldest first.
    public var transcript: [TranscriptEntry] { engine.recorder.entries }

    /// The transcript as text, one line per entry.
    public var transcriptText: String { transcript.map { $0.description + "\n" }.joined() }

    private static func check(_ scenario: Scenario, _ settings: [ModemSettings]) throws(FakeModemError) {
        var names: Set<String> = []
        var numbers: Set<String> = []
        for (index, modem) in settings.enumerated() {
            let name = modem.name ?? ""
            guard names.insert(name).inserted else {
                throw .configuration("\(scenario.source): modem \(index) is named '\(name)' like another modem")
            }
            if let number = modem.number, !numbers.insert(number).inserted {
                throw .configuration("\(scenario.source): modem \(index) '\(name)' has the number \(number) of another modem")
            }
            if let problem = ModemEmulator.problem(withProfile: modem.profile) {
                throw .configuration("\(scenario.source): modem '\(name)': \(problem)")
            }
        }
        let outcomes = scenario.routes.map { ($0.origin ?? "\(scenario.source) (\($0.match))", $0.outcome) }
            + [("\(scenario.source) (otherwise)", scenario.otherwise)]
        for (origin, outcome) in outcomes {
            if case .ring(let ring) = outcome.kind, !names.contains(ring.modem) {
                throw .configuration("\(origin): 'ring: \(ring.modem)' names no modem of this bank (\(settings.compactMap(\.name).joined(separator: ", ")))")
            }
        }
    }
}

/// One fake modem of a ``FakeModemBank``: its slave path, its state and its transcript.
public final class EmulatedModem: Sendable {
    /// Position in the bank.
    public let index: Int
    /// Name in transcripts and `ring:` routes.
    public let name: String
    /// The number that rings it on the exchange.
    public let number: String
    /// The pty slave a program opens as its serial port, e.g. `/dev/pts/7`.
    public let slavePath: String
    let engine: BankEngine

    init(index: Int, name: String, number: String, slavePath: String, engine: BankEngine) {
        self.index = index
        self.name = name
        self.number = number
        self.slavePath = slavePath
        self.engine = engine
    }

    /// A snapshot of the modem's state.
    public var status: ModemStatus {
        engine.withEmulator(index) { emulator in
            ModemStatus(mode: emulator.mode, isOffHook: emulator.isOffHook, isRinging: emulator.isRinging,
                        isDTRRaised: emulator.isDTRRaised, isCarrierDetected: emulator.isCarrierDetected,
                        registers: emulator.registers)
        }
    }

    /// Whether the modem holds the line now (dialing, answering, in a call, `ATH1`).
    public var isOffHook: Bool { engine.withEmulator(index) { $0.isOffHook } }

    /// What the modem is doing now.
    public var mode: ModemEmulator.Mode { engine.withEmulator(index) { $0.mode } }

    /// This modem's part of the transcript kept in memory, oldest first.
    public var transcript: [TranscriptEntry] { engine.recorder.entries.filter { $0.modem == name } }

    /// The texts of this modem's events (`off-hook`, `dial 1001`, `on-hook ATH`, …).
    public var events: [String] { transcript.compactMap(\.event) }

    /// A position in the bank's transcript: pass it to ``events(after:)`` or
    /// ``waitForEvent(_:after:timeout:)`` to look only at what happens later.
    public var transcriptMark: Int { engine.recorder.count }

    /// This modem's events recorded after `mark`.
    public func events(after mark: Int) -> [String] {
        engine.recorder.entries(after: mark).filter { $0.modem == name }.compactMap(\.event)
    }

    /// Waits until this modem records an event starting with `prefix` after `mark`;
    /// returns the event, or `nil` after `timeout`.
    public func waitForEvent(_ prefix: String, after mark: Int = 0, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let event = events(after: mark).first(where: { $0.hasPrefix(prefix) }) { return event }
            if ContinuousClock.now >= deadline { return nil }
            do { try await Task.sleep(for: .milliseconds(5)) } catch { return nil }
        }
    }

    /// Records `text` as an event of this modem in the transcript.
    func record(_ text: String) {
        engine.recorder.record(name, .event, Array(text.utf8), at: .now)
    }

    /// Whether the bank serves a program on the slave now: it saw the slave opened and
    /// not yet closed.
    var engineSeesSlaveOpen: Bool { engine.seesSlaveOpen(index) }

    /// Unplugs the modem now: its master closes and the program on the slave reads
    /// end-of-file. A call it was on is lost for the other end.
    public func unplug() { engine.unplug(index) }

    /// Replaces the modem's faults from now on (see ``ModemEmulator/changeFaults(_:at:)``):
    /// a test turns a fault on in one phase of a call and off again.
    public func changeFaults(_ faults: FaultSet) { engine.changeFaults(index, faults) }

    /// Drops the modem's call now: `NO CARRIER` after S10, as `drop-after` does (at once
    /// while it dials or answers).
    public func dropCarrier() { engine.dropCarrier(index) }

    /// The modem's faults now.
    public var faults: FaultSet { engine.withEmulator(index) { $0.settings.faults } }

    /// Rings the modem with a call from outside the bank, `call.after` from now (tests ring
    /// a listening line on cue instead of at a fixed time after power-on).
    public func call(_ call: ExternalCall) { engine.call(index, call) }
}

/// A snapshot of an emulated modem's state.
public struct ModemStatus: Sendable, Equatable {
    /// What it is doing.
    public var mode: ModemEmulator.Mode
    /// Whether it holds the line.
    public var isOffHook: Bool
    /// Whether an incoming call is ringing.
    public var isRinging: Bool
    /// Whether it sees DTR raised.
    public var isDTRRaised: Bool
    /// Whether it drives DCD (see ``ModemEmulator/isCarrierDetected``).
    public var isCarrierDetected: Bool
    /// Its S-registers.
    public var registers: SRegisters
}
