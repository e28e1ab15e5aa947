import Logging
import Serial
import SystemIO

/// Time limits of a ``ModemSession``. The defaults suit real modems (HAYES-REFERENCE §8);
/// tests against the fake modem shorten them.
public struct ModemTiming: Sendable, Equatable {
    /// Deadline for an ordinary command's final result.
    public var command: Duration = .seconds(3)
    /// Deadline for the answer to `ATZ`.
    public var reset: Duration = .seconds(3)
    /// Pause after `ATZ` before the next command (some modems say OK, then keep resetting).
    public var resetSettle: Duration = .milliseconds(600)
    /// Pause after a final result before the next command line.
    public var interCommand: Duration = .milliseconds(100)
    /// Quiet time after a lone CR before a V0 result is taken as complete.
    public var quietFlush: Duration = .milliseconds(50)
    /// How long DTR stays dropped.
    public var dtrDrop: Duration = .milliseconds(500)
    /// How long to wait for confirmation (carrier gone, `NO CARRIER`, `OK`) after each
    /// hang-up step.
    public var hangUpConfirm: Duration = .seconds(2)
    /// The modem's escape guard time (S12 in fiftieths of a second; 50 = 1 s), plus margin.
    public var escapeGuard: Duration = .milliseconds(1100)
    /// Deadline for `NO CARRIER` after aborting a dial.
    public var abortDial: Duration = .seconds(3)
    /// How often carrier-detect is sampled while online, on ports that have modem lines.
    public var carrierPoll: Duration = .milliseconds(50)

    /// The defaults.
    public init() {}
}

/// What went wrong talking to a modem.
public enum ModemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No final result before the deadline (a dead, unpowered or `Q1` modem).
    case noResponse(command: String)
    /// The modem answered with a failure (`ERROR`…).
    case rejected(FinalResult, command: String)
    /// The init string is not a valid command line.
    case invalidCommand(ATCommandError)
    /// The port failed (unplugged, closed…).
    case port(SerialError)
    /// The task was cancelled (a hang-up was requested).
    case cancelled

    public var description: String {
        switch self {
        case .noResponse(let command): return "no answer to \(command)"
        case .rejected(let result, let command): return "\(command) answered \(result)"
        case .invalidCommand(let error): return "invalid command: \(error)"
        case .port(let error): return error.description
        case .cancelled: return "cancelled"
        }
    }
}

/// How a dial ended.
public enum DialOutcome: Sendable, Equatable {
    /// `CONNECT`: online, with the details reported before it.
    case connected(ConnectInfo, details: [ConnectionDetail])
    /// A failure result: `BUSY`, `NO ANSWER`, `NO CARRIER`, `NO DIALTONE`, `ERROR`…
    case failed(FinalResult)
    /// The deadline passed with no final result (the dial was aborted). `junk` holds the
    /// lines seen that were not results — non-empty means the modem answered something
    /// we do not understand.
    case noResult(junk: [String])
}

/// Why an online connection ended.
public enum OnlineEnd: Sendable, Equatable {
    /// The carrier was lost (`NO CARRIER`, carrier-detect dropped, or the tty hung up
    /// while the device is still there).
    case carrierLost
    /// The device is gone (unplugged: hang-up and the device node vanished, or `EIO`).
    case deviceGone(SerialError)
    /// No byte arrived for the idle limit (the modem is still online).
    case idle
}

/// What a hang-up did.
public struct HangUpReport: Sendable, Equatable, CustomStringConvertible {
    /// The step that put the modem on-hook (or the last one tried).
    public enum Method: String, Sendable {
        /// The modem was in command mode; `ATH` confirmed it on-hook.
        case commandMode = "command-mode"
        /// A dial in progress was aborted (a byte, then `NO CARRIER`).
        case abortDial = "abort-dial"
        /// DTR was dropped and the modem confirmed.
        case dtr
        /// `+++` with the guard time, then `ATH`.
        case escape
        /// Nothing was confirmed: the port must be closed with `HUPCL` set (the caller
        /// closes it), which is all that is left to try.
        case hupclClose = "hupcl-close"
        /// The device vanished during the hang-up.
        case deviceGone = "device-gone"
    }

    /// One rung of the ladder.
    public struct Step: Sendable, Equatable {
        /// Its name (`dtr`, `escape`, `ATH`, `verify`…).
        public var name: String
        /// How long it took.
        public var duration: Duration
        /// What it saw.
        public var outcome: String
    }

    /// The method that ended it.
    public var method: Method
    /// Whether the modem confirmed it is on-hook.
    public var confirmed: Bool
    /// The rungs tried, in order.
    public var steps: [Step]

    public var description: String {
        let rungs = steps.map { "\($0.name) \($0.outcome) in \($0.duration.milliseconds) ms" }.joined(separator: ", ")
        return "\(method.rawValue) (\(confirmed ? "confirmed" : "not confirmed")): \(rungs)"
    }
}

/// One modem on one open port: commands with deadlines, the init sequence, dialing,
/// watching the carrier, and the hang-up ladder.
///
/// The session is used by one task at a time (the connection that owns the port); it is
/// an actor so that it can be handed between tasks, not so that calls can overlap.
public actor ModemSession {
    /// Where the modem is.
    public enum Mode: String, Sendable {
        /// Command mode: AT commands are executed.
        case command
        /// A dial is in progress (any byte would abort it).
        case dialing
        /// Online: data passes to the remote modem.
        case online
        /// Online-command mode: the call is up, AT commands are executed (after `+++`).
        case onlineCommand = "online-command"
    }

    /// The port.
    public let port: SerialPort
    /// The time limits.
    public let timing: ModemTiming
    /// The init string sent when an entry gives none (after `ATZ`).
    public static let defaultInit: ATCommand = (try? ATCommand(parts: [
        .echo(false), .quiet(false), .verbose(true), .resultCodes(.x4), .dcd(.followsCarrier),
        .dtr(.hangUp), .setRegister(0, 0), .dataMode,
    ])) ?? .attention

    /// The mode the session believes the modem is in.
    public internal(set) var mode: Mode = .command
    /// Bytes received while online.
    public private(set) var bytesReceived = 0

    var logger: Logger
    /// Numeric mode on: a digits line ended by a lone CR is a V0 result, one ended by CR LF
    /// is info, and verbal results are recognised as always — so the session understands
    /// a modem in V0 or V1 without having to know which.
    private var decoder = ResponseDecoder(parser: ResultParser(numericMode: true))
    private var pending: [DecodedLine] = []
    private var lastFinal: ContinuousClock.Instant?
    private var needsResync = false
    /// Whether the modem has given any final result in this session.
    private var hasAnswered = false

    /// A session on an open port. `logger` gets one line per command and hang-up step.
    public init(port: SerialPort, timing: ModemTiming = ModemTiming(), logger: Logger) {
        self.port = port
        self.timing = timing
        self.logger = logger
        self.logger[metadataKey: "port"] = "\(port.path)"
    }

    // MARK: Commands

    /// Sends one command line and waits for its final result.
    ///
    /// - Returns: the whole answer, whatever the final result (check `final`).
    /// - Throws: ``ModemError/noResponse(command:)`` when the deadline passes (the next
    ///   command then first resynchronises: input flushed, bare `AT` until `OK`),
    ///   ``ModemError/port(_:)``, ``ModemError/cancelled``.
    public func send(_ command: ATCommand, timeout: Duration? = nil) async throws(ModemError) -> CommandResponse {
        if needsResync { try await resynchronise() }
        return try await exchange(command, timeout: timeout ?? timing.command)
    }

    /// Sends a command line and requires `OK`.
    @discardableResult
    public func expectOK(_ command: ATCommand, timeout: Duration? = nil) async throws(ModemError) -> CommandResponse {
        let response = try await send(command, timeout: timeout)
        guard response.final == .ok else { throw .rejected(response.final, command: command.description) }
        return response
    }

    /// Sends `command` and collects its answer. Unless the command `goesOnline` (`ATO`), a
    /// `CONNECT` cannot be its answer and is skipped.
    private func exchange(_ command: ATCommand, timeout: Duration, goesOnline: Bool = false) async throws(ModemError) -> CommandResponse {
        try await pace()
        pending.removeAll()
        decoder.expectEcho(command)
        try await write(command.encoded())
        var collector = ResponseCollector()
        let deadline = ContinuousClock.now + timeout
        let started = ContinuousClock.now
        while true {
            guard let line = try await nextLine(deadline: deadline) else {
                needsResync = true
                logger.debug("no answer", metadata: ["command": "\(command)", "ms": "\(started.duration(to: .now).milliseconds)"])
                throw .noResponse(command: command.description)
            }
            if case .final(.connect) = line.response, !goesOnline {
                // Line noise can complete a word ("\r\nCONNECT" cut short, then the real
                // "\r\nOK"): a result this command cannot give is not its answer.
                logger.debug("ignoring CONNECT: this command cannot go online", metadata: ["command": "\(command)"])
                continue
            }
            if let response = collector.accept(line.response) {
                lastFinal = .now
                hasAnswered = true
                logger.debug("command", metadata: [
                    "command": "\(command)", "result": "\(response.final)",
                    "ms": "\(started.duration(to: .now).milliseconds)",
                ])
                return response
            }
        }
    }

    /// Flushes stale input and sends bare `AT` until the modem answers `OK` — after a
    /// timeout a late result must not be read as the answer to the next command.
    private func resynchronise() async throws(ModemError) {
        needsResync = false
        try flushInput()
        for _ in 0..<3 {
            do {
                let response = try await exchange(.attention, timeout: timing.command)
                if response.final == .ok { return }
            } catch .noResponse {
                try flushInput()
            }
        }
        needsResync = true
        throw .noResponse(command: "AT")
    }

    // MARK: Init and dial

    /// Wakes and resets the modem, then configures it: a CR to end any partial line,
    /// `ATZ` (if it gets no answer, `ATQ0V1E0` — a modem set to `Q1` looks dead), the
    /// settle pause, then each of `initStrings` in order (``defaultInit`` when empty).
    ///
    /// - Parameter timeout: the deadline for each init line's answer.
    /// - Throws: ``ModemError/noResponse(command:)`` if the modem stays silent,
    ///   ``ModemError/rejected(_:command:)`` if an init line is refused,
    ///   ``ModemError/invalidCommand(_:)`` for an init string that is not a command line
    ///   or would dial, answer, go online or off-hook (``ATCommand/init(initString:)``)
    ///   (checked before anything is sent).
    public func initialize(initStrings: [String] = [], timeout: Duration? = nil) async throws(ModemError) {
        var lines: [ATCommand] = []
        do throws(ATCommandError) {
            for text in initStrings { lines.append(try ATCommand(initString: text)) }
        } catch {
            throw .invalidCommand(error)
        }
        if lines.isEmpty { lines = [ModemSession.defaultInit] }
        try await write([13])
        try await sleep(timing.interCommand)
        try flushInput()
        decoder.reset()
        pending.removeAll()
        mode = .command
        needsResync = false
        var awake = false
        do {
            awake = try await exchange(ATCommand(.reset), timeout: timing.reset).final == .ok
        } catch .noResponse {
            try flushInput()
        }
        if !awake {
            // No answer to ATZ: try the probe at once (a resync's bare AT would get no
            // answer from a Q1 modem either).
            needsResync = false
            let probe = (try? ATCommand(parts: [.quiet(false), .verbose(true), .echo(false)])) ?? .attention
            try await expectOK(probe, timeout: timeout)
        }
        try await sleep(timing.resetSettle)
        try flushInput()
        for line in lines { try await expectOK(line, timeout: timeout) }
    }

    /// Sends the dial command (`ATD` + `dialString`, e.g. `T5551234`) and waits up to
    /// `timeout` for the outcome. Rings and connection details before `CONNECT` are
    /// collected; lines that are not results do not end the dial. When the deadline
    /// passes the dial is aborted.
    ///
    /// - Throws: ``ModemError/cancelled`` if the task is cancelled (the modem is still
    ///   dialing: call ``hangUp()`` next, which aborts it), ``ModemError/port(_:)``.
    public func dial(_ dialString: DialString, timeout: Duration) async throws(ModemError) -> DialOutcome {
        let command = ATCommand(.dial(dialString))
        if needsResync { try await resynchronise() }
        try await pace()
        pending.removeAll()
        decoder.expectEcho(command)
        try await write(command.encoded())
        mode = .dialing
        logger.info("dialing", metadata: ["command": "\(command)"])
        var collector = ResponseCollector()
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let line = try await nextLine(deadline: deadline) else {
                let junk = collector.collectedInfo + collector.collectedUnrecognised
                logger.info("dial deadline passed", metadata: ["junk": "\(junk)"])
                _ = await abortDial()
                return .noResult(junk: junk)
            }
            // A data dial never answers OK: that would be line noise completing a word.
            if line.response == .final(.ok) { continue }
            guard let response = collector.accept(line.response) else { continue }
            lastFinal = .now
            switch response.final {
            case .connect(let info):
                mode = .online
                bytesReceived = 0
                // Let a carrier drop hang the tty up from now on (real ports).
                try? setIgnoresCarrier(false)
                return .connected(info, details: response.details)
            default:
                mode = .command
                return .failed(response.final)
            }
        }
    }

    /// Aborts a dial in progress: one CR (any byte does it), then waits for `NO CARRIER`
    /// (or `OK`). Returns whether the modem confirmed.
    @discardableResult
    public func abortDial() async -> Bool {
        guard mode == .dialing else { return true }
        do {
            try await write([13])
            let deadline = ContinuousClock.now + timing.abortDial
            while let line = try await nextLine(deadline: deadline) {
                if case .final = line.response {
                    mode = .command
                    lastFinal = .now
                    return true
                }
            }
        } catch {}
        needsResync = true
        return false
    }

    // MARK: Online

    /// Waits while online until the connection ends by itself: the carrier is lost
    /// (`NO CARRIER`, carrier-detect dropped, or a hang-up with the device still present),
    /// the device is gone (unplugged), or — with an `idleLimit` — no byte arrived for that
    /// long. Data received meanwhile is counted and dropped.
    ///
    /// - Throws: ``ModemError/cancelled`` when the task is cancelled (our own hang-up).
    ///
    /// The wait costs nothing while the line is quiet: on a port without modem lines (a pty)
    /// it wakes only for data, a hang-up or the idle deadline; on a port with modem lines it
    /// also samples carrier-detect every ``ModemTiming/carrierPoll``, on a grid shared by every
    /// line (``ReactorClock``), so a thousand lines cost the reactor one wake per period.
    public func waitForDisconnect(idleLimit: Duration? = nil) async throws(ModemError) -> OnlineEnd {
        let watchesCarrier = (try? port.modemLines()) != nil
        var lastData = ContinuousClock.now
        while true {
            if let idleLimit, lastData.duration(to: .now) >= idleLimit {
                logger.info("idle", metadata: ["seconds": "\(idleLimit)"])
                return .idle
            }
            let idleDeadline = idleLimit.map { lastData + $0 }
            let pollDeadline = watchesCarrier ? ReactorClock.nextTick(every: timing.carrierPoll) : nil
            let deadline = [idleDeadline, pollDeadline].compactMap { $0 }.min()
            let bytes: [UInt8]
            do {
                bytes = try await port.read(deadline: deadline)
            } catch .cancelled {
                throw .cancelled
            } catch {
                mode = .command
                return port.deviceIsPresent ? .carrierLost : .deviceGone(error)
            }
            bytesReceived += bytes.count
            if !bytes.isEmpty { lastData = .now }
            for line in decoder.feed(bytes) where line.response == .final(.noCarrier) {
                mode = .command
                logger.info("carrier lost", metadata: ["bytes": "\(bytesReceived)"])
                return .carrierLost
            }
            if watchesCarrier, let lines = try? port.modemLines(), !lines.contains(.dcd) {
                mode = .command
                logger.info("carrier detect dropped", metadata: ["bytes": "\(bytesReceived)"])
                return .carrierLost
            }
        }
    }

    // MARK: Hang-up

    /// Puts the modem on-hook, escalating until it confirms (HAYES-REFERENCE §6):
    /// abort a dial in progress; in command mode, `ATH`; online, drop DTR and wait for
    /// carrier-detect to fall or `NO CARRIER`; else `+++` with the guard time, then `ATH`,
    /// verified (carrier-detect low, or `ATO` not answering `CONNECT`); else report
    /// ``HangUpReport/Method/hupclClose``: the caller closes the port with `HUPCL` set.
    /// Every rung is bounded by ``ModemTiming`` and logged with its duration. Never throws:
    /// the report says what was confirmed.
    public func hangUp() async -> HangUpReport {
        var steps: [HangUpReport.Step] = []
        func record(_ name: String, since start: ContinuousClock.Instant, _ outcome: String) {
            let step = HangUpReport.Step(name: name, duration: start.duration(to: .now), outcome: outcome)
            steps.append(step)
            logger.info("hang-up step", metadata: ["step": "\(name)", "outcome": "\(outcome)", "ms": "\(step.duration.milliseconds)"])
        }
        func finish(_ method: HangUpReport.Method, confirmed: Bool) -> HangUpReport {
            if confirmed { mode = .command }
            try? flushInput()
            decoder.reset()
            pending.removeAll()
            let report = HangUpReport(method: method, confirmed: confirmed, steps: steps)
            logger.info("hang-up done", metadata: ["report": "\(report)"])
            return report
        }
        // Talk to the modem regardless of carrier, and make sure a last close drops DTR.
        try? setIgnoresCarrier(true, hangUpOnClose: true)

        var start = ContinuousClock.now
        if mode == .dialing {
            let aborted = await abortDial()
            record("abort", since: start, aborted ? "NO CARRIER" : "no answer")
            if !port.deviceIsPresent { return finish(.deviceGone, confirmed: false) }
            if aborted { return finish(.abortDial, confirmed: true) }
        }
        if !hasAnswered {
            // The modem never said a word in this session (dead, unpowered, not a modem):
            // there is nobody to confirm anything. Drop DTR for good measure and close.
            start = .now
            let method = try? await port.dropDTR(for: timing.dtrDrop)
            record("dtr", since: start, method.map { "\($0.rawValue): modem never answered" } ?? "failed")
            return finish(port.deviceIsPresent ? .hupclClose : .deviceGone, confirmed: false)
        }
        if mode == .command {
            start = .now
            do {
                let response = try await exchange(ATCommand(.hangUp), timeout: timing.command)
                record("ATH", since: start, "\(response.final)")
                if response.final == .ok { return finish(.commandMode, confirmed: true) }
            } catch {
                record("ATH", since: start, "\(error)")
                if case .port = error { return finish(.deviceGone, confirmed: false) }
            }
            // No sensible answer: the modem may be online after all. Escalate.
        }

        // Rung 1: DTR.
        if mode != .onlineCommand {
            start = .now
            do {
                let method = try await port.dropDTR(for: timing.dtrDrop)
                let seen = try await confirmAfterDTR()
                record("dtr", since: start, "\(method.rawValue): \(seen)")
                switch seen {
                case .onHook: return finish(.dtr, confirmed: true)
                case .onlineCommand: mode = .onlineCommand
                case .nothing: break
                }
            } catch {
                record("dtr", since: start, "\(error)")
                if !port.deviceIsPresent { return finish(.deviceGone, confirmed: false) }
            }
        }

        // Rung 2: +++ then ATH.
        if mode != .onlineCommand {
            start = .now
            let escaped = await escape()
            record("escape", since: start, escaped ? "OK" : "no answer")
        }
        start = .now
        do {
            let response = try await exchange(ATCommand(.hangUp), timeout: timing.command)
            record("ATH", since: start, "\(response.final)")
        } catch {
            record("ATH", since: start, "\(error)")
            if !port.deviceIsPresent { return finish(.deviceGone, confirmed: false) }
        }
        start = .now
        let onHook = await verifyOnHook()
        record("verify", since: start, onHook ? "on-hook" : "still connected")
        if onHook { return finish(.escape, confirmed: true) }

        // Rung 3: nothing confirmed; closing with HUPCL is all that is left.
        if mode == .online { _ = await escape() }
        return finish(.hupclClose, confirmed: false)
    }

    private enum DTRConfirmation: String { case onHook = "on-hook", onlineCommand = "online-command", nothing = "no sign" }

    /// After a DTR drop: carrier-detect low (ports with modem lines), `NO CARRIER`
    /// (hung up), or `OK` (`&D1`: online-command mode, call still up).
    private func confirmAfterDTR() async throws(ModemError) -> DTRConfirmation {
        let deadline = ContinuousClock.now + timing.hangUpConfirm
        let hasLines = (try? port.modemLines()) != nil
        while ContinuousClock.now < deadline {
            if hasLines, let lines = try? port.modemLines(), !lines.contains(.dcd) { return .onHook }
            let step = min(deadline, .now + (hasLines ? timing.carrierPoll : timing.hangUpConfirm))
            guard let line = try await nextLine(deadline: step) else { continue }
            switch line.response {
            case .final(.noCarrier): return .onHook
            case .final(.ok): return .onlineCommand
            default: continue
            }
        }
        return .nothing
    }

    /// `+++` with silence of the guard time before and after; true if the modem said `OK`.
    private func escape() async -> Bool {
        do {
            try await sleep(timing.escapeGuard)
            try flushInput()
            pending.removeAll()
            try await write(ATCommand.escapeSequence() ?? [43, 43, 43])
            try await sleep(timing.escapeGuard)
            let deadline = ContinuousClock.now + timing.hangUpConfirm
            while let line = try await nextLine(deadline: deadline) {
                if line.response == .final(.ok) {
                    mode = .onlineCommand
                    lastFinal = .now
                    return true
                }
            }
        } catch {}
        return false
    }

    /// Whether the modem is on-hook after `ATH`: carrier-detect low on ports with modem
    /// lines; otherwise `ATO` must not answer `CONNECT` (an on-hook modem answers
    /// `NO CARRIER` or `ERROR`).
    private func verifyOnHook() async -> Bool {
        if let lines = try? port.modemLines() { return !lines.contains(.dcd) }
        do {
            let response = try await exchange(ATCommand(.online), timeout: timing.command, goesOnline: true)
            if case .connect = response.final {
                mode = .online
                return false
            }
            mode = .command
            return true
        } catch {
            return false
        }
    }

    // MARK: Port plumbing

    private func nextLine(deadline: ContinuousClock.Instant) async throws(ModemError) -> DecodedLine? {
        while true {
            if !pending.isEmpty { return pending.removeFirst() }
            let now = ContinuousClock.now
            if now >= deadline && !decoder.hasPendingLine { return nil }
            let readUntil = decoder.hasPendingLine ? min(deadline, now + timing.quietFlush) : deadline
            let bytes: [UInt8]
            do {
                bytes = try await port.read(deadline: readUntil)
            } catch .cancelled {
                throw .cancelled
            } catch {
                throw .port(error)
            }
            if bytes.isEmpty {
                if decoder.hasPendingLine { pending += decoder.flush() }
                if pending.isEmpty && ContinuousClock.now >= deadline { return nil }
                continue
            }
            logger.trace("received", metadata: ["bytes": "\(bytes.escapedForLog)"])
            pending += decoder.feed(bytes)
        }
    }

    private func write(_ bytes: [UInt8]) async throws(ModemError) {
        logger.trace("sending", metadata: ["bytes": "\(bytes.escapedForLog)"])
        do {
            try await port.write(bytes, deadline: .now + timing.command)
        } catch .cancelled {
            throw .cancelled
        } catch {
            throw .port(error)
        }
    }

    private func flushInput() throws(ModemError) {
        do { try port.flush(.input) } catch { throw .port(error) }
    }

    private func setIgnoresCarrier(_ ignores: Bool, hangUpOnClose: Bool = true) throws(SerialError) {
        var options = try port.currentOptions()
        options.ignoresCarrier = ignores
        options.hangUpOnClose = hangUpOnClose
        try port.configure(options)
    }

    /// Keeps at least ``ModemTiming/interCommand`` between a final result and the next line.
    private func pace() async throws(ModemError) {
        guard let lastFinal else { return }
        let ready = lastFinal + timing.interCommand
        if ready > .now { try await sleep(ContinuousClock.now.duration(to: ready)) }
    }

    private func sleep(_ duration: Duration) async throws(ModemError) {
        do { try await Task.sleep(for: duration) } catch { throw .cancelled }
    }
}

extension Duration {
    /// Whole milliseconds, for logs and reports.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension Array where Element == UInt8 {
    /// Printable form for logs: `\r`, `\n` and non-printing bytes escaped.
    var escapedForLog: String {
        var text = ""
        for byte in self {
            switch byte {
            case 13: text += "\\r"
            case 10: text += "\\n"
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                text += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }
}
