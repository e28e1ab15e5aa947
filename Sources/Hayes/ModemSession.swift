import Logging
import Serial
import SystemIO

/// Time limits of a ``ModemSession``. Nothing here is a fixed wait on the normal path: each
/// limit bounds a wait that ends as soon as the modem answers (HAYES-REFERENCE §8). Tests
/// against the fake modem shorten them.
public struct ModemTiming: Sendable, Equatable {
    /// Deadline for an ordinary command's final result.
    public var command: Duration = .seconds(3)
    /// Deadline for the answer to `ATZ`, and then for the modem to answer `AT` (ready).
    public var reset: Duration = .seconds(3)
    /// How long each `AT` asking whether the modem is ready after `ATZ` waits for `OK`
    /// (some modems say OK, then keep resetting and lose what is sent meanwhile).
    public var readyPoll: Duration = .milliseconds(100)
    /// Deadline for the first `AT` of a session and for `ATQ0V1E0` after it. A modem that
    /// answers neither is taken for one left online, and the recovery ladder starts.
    public var wake: Duration = .milliseconds(500)
    /// Pause after a final result before the next command line: none by default. A modem
    /// that loses commands sent too soon teaches the channel its pause (``CommandPacing``).
    public var interCommand: Duration = .zero
    /// Silence after a command line (no echo, no byte) after which it counts as lost and
    /// is written again (only commands that are safe to repeat).
    public var lostCommandWindow: Duration = .milliseconds(250)
    /// Quiet time after a lone CR before a V0 result is taken as complete.
    public var quietFlush: Duration = .milliseconds(50)
    /// The longest DTR stays dropped waiting for the modem to confirm on-hook (`NO CARRIER`,
    /// `OK`, carrier-detect falling); it is raised as soon as the modem confirms. The wait is
    /// at least the escape guard time, because that silence must precede `+++` anyway.
    public var dtrDrop: Duration = .milliseconds(200)
    /// How long to wait for confirmation (`NO CARRIER`, `OK`) after each hang-up step
    /// beyond the modem's own delay (the guard time after `+++`).
    public var hangUpConfirm: Duration = .seconds(2)
    /// The silence before `+++`. `nil`: the modem's own guard time (S12, read at init) plus
    /// ``guardMargin``, or 1.1 s when S12 could not be read.
    public var escapeGuard: Duration?
    /// What is added to the modem's guard time (S12) for the silence around `+++`.
    public var guardMargin: Duration = .milliseconds(50)
    /// Deadline for `NO CARRIER` after aborting a dial.
    public var abortDial: Duration = .seconds(3)
    /// How often carrier-detect is sampled while online, on ports that have modem lines.
    public var carrierPoll: Duration = .milliseconds(50)

    /// The guard time assumed when the modem's S12 cannot be read: 1 s (S12 = 50) + 100 ms.
    public static let fallbackEscapeGuard = Duration.milliseconds(1100)

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
/// watching the carrier, and the hang-up ladder. Every AT command swift-ras sends goes
/// through a session (and its ``CommandChannel``); discovery probes through one too.
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
    public let port: any ModemPort
    /// The time limits.
    public let timing: ModemTiming
    /// The init string sent when none is given (after `ATZ`): no echo, results on and
    /// verbal, all result codes, DCD follows the carrier, DTR drop hangs up, no auto-answer.
    /// The one default of swift-ras (phonebook entries without `InitString` get it too).
    public static let defaultInitString = "ATE0 Q0 V1 X4 &C1 &D2 S0=0"
    /// ``defaultInitString`` as a command line.
    public static let defaultInit: ATCommand = (try? ATCommand(initString: defaultInitString)) ?? .attention
    /// `ATQ0V1E0`: results on, verbal, no echo — what wakes a modem left in `Q1` (which
    /// looks dead otherwise) and what a probe sends first.
    public static let resultsOn: ATCommand = (try? ATCommand(parts: [.quiet(false), .verbose(true), .echo(false)]))
        ?? .attention

    /// The mode the session believes the modem is in.
    public internal(set) var mode: Mode = .command
    /// Bytes received while online.
    public private(set) var bytesReceived = 0
    /// The modem's escape guard time (S12), when the init could read it.
    public private(set) var guardTime: Duration?

    let logger: Logger
    private let channel: CommandChannel

    /// A session on an open port. `logger` gets one line per command and hang-up step
    /// (none by default).
    public init(
        port: any ModemPort, timing: ModemTiming = ModemTiming(),
        logger: Logger = Logger(label: "swift-ras.modem", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.port = port
        self.timing = timing
        var logger = logger
        logger[metadataKey: "port"] = "\(port.path)"
        self.logger = logger
        channel = CommandChannel(port: port, timing: timing, logger: logger)
    }

    /// The pacing the session's channel uses now (configured, then learned).
    public var pacing: CommandPacing { channel.pacing }

    /// The last lines heard that were not part of any answer (for "not a modem" reports).
    public var unansweredLines: [String] { channel.heard }

    /// The silence kept before `+++`: the configured guard, else the modem's S12 plus the
    /// margin, else ``ModemTiming/fallbackEscapeGuard``.
    public var escapeGuard: Duration {
        timing.escapeGuard ?? guardTime.map { $0 + timing.guardMargin } ?? ModemTiming.fallbackEscapeGuard
    }

    // MARK: Commands

    /// Sends one command line and waits for its final result.
    ///
    /// - Parameter resynchronising: after an earlier timeout, first flush and send bare
    ///   `AT` until `OK` (the default). A probe that moves on after silence passes false.
    /// - Returns: the whole answer, whatever the final result (check `final`).
    /// - Throws: ``ModemError/noResponse(command:)`` when the deadline passes,
    ///   ``ModemError/port(_:)``, ``ModemError/cancelled``.
    public func send(_ command: ATCommand, timeout: Duration? = nil, resynchronising: Bool = true) async throws(ModemError) -> CommandResponse {
        try await channel.send(command, timeout: timeout ?? timing.command, resynchronising: resynchronising)
    }

    /// Sends a command line and requires `OK`.
    @discardableResult
    public func expectOK(_ command: ATCommand, timeout: Duration? = nil) async throws(ModemError) -> CommandResponse {
        let response = try await send(command, timeout: timeout)
        guard response.final == .ok else { throw .rejected(response.final, command: command.description) }
        return response
    }

    // MARK: Init and dial

    /// Wakes and resets the modem, then configures it:
    /// 1. a CR to end any partial line, then `AT` (``ModemTiming/wake``); without an answer
    ///    `ATQ0V1E0` (a `Q1` modem looks dead); without an answer the modem is taken for one
    ///    left online by another program and recovered: DTR dropped until it confirms,
    ///    `AT`; then `+++`, `ATH`, `AT`; only then ``ModemError/noResponse(command:)``;
    /// 2. `ATZ`, then `AT` until the modem answers `OK`, asked again every
    ///    ``ModemTiming/readyPoll`` while it stays silent (for up to ``ModemTiming/reset``
    ///    after the `OK` to `ATZ`) — no fixed settle time;
    /// 3. each of `initStrings` in order (``defaultInit`` when empty);
    /// 4. `ATS12?`: the modem's own escape guard time, used for `+++` when hanging up.
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
        mode = .command
        channel.needsResync = false
        try await channel.write([13])
        try await wake()
        channel.needsResync = false

        let reset = try await send(ATCommand(.reset), timeout: timing.reset)
        guard reset.final == .ok else { throw .rejected(reset.final, command: "ATZ") }
        try await awaitReady(until: .now + timing.reset)

        for line in lines { try await expectOK(line, timeout: timeout) }
        await readGuardTime()
    }

    /// `AT`, then `ATQ0V1E0`, then the recovery ladder for a modem left online.
    private func wake() async throws(ModemError) {
        if await answers(.attention) { return }
        if await answers(Self.resultsOn) { return }
        logger.notice("the modem does not answer AT: recovering it as a modem left online")

        let dtrStart = ContinuousClock.now
        if let method = try? port.lowerDTR() {
            let seen = (try? await confirmAfterDTR(limit: max(timing.dtrDrop, escapeGuard))) ?? .nothing
            try? port.raiseDTR(after: method)
            logger.info("recovery: DTR dropped", metadata: ["seen": "\(seen)", "ms": "\(dtrStart.duration(to: .now).milliseconds)"])
            if await answers(.attention) {
                logger.notice("recovered the modem by dropping DTR")
                return
            }
        }
        // +++ (the modem answers OK if it was online), then ATH either way.
        let escaped = await escape()
        _ = try? await channel.send(ATCommand(.hangUp), timeout: timing.command, resynchronising: false)
        if await answers(.attention) {
            logger.notice("recovered the modem with +++ and ATH", metadata: ["escape": "\(escaped ? "OK" : "no answer")"])
            mode = .command
            return
        }
        channel.needsResync = true
        throw .noResponse(command: "AT")
    }

    /// Whether the modem gives any final result to `command` within ``ModemTiming/wake``.
    private func answers(_ command: ATCommand) async -> Bool {
        do {
            _ = try await channel.send(command, timeout: timing.wake, resynchronising: false)
            return true
        } catch {
            return false
        }
    }

    /// After `ATZ` answered `OK`: `AT`, asked again every ``ModemTiming/readyPoll`` while the
    /// modem stays silent, until `OK` — so the next command is not lost to a modem that is
    /// still resetting, and a slow but ready modem is asked only once.
    private func awaitReady(until deadline: ContinuousClock.Instant) async throws(ModemError) {
        let remaining = ContinuousClock.now.duration(to: deadline)
        do throws(ModemError) {
            let response = try await channel.send(
                .attention, timeout: max(remaining, timing.readyPoll), resynchronising: false, polling: timing.readyPoll)
            guard response.final == .ok else { throw ModemError.rejected(response.final, command: "AT (after ATZ)") }
        } catch .noResponse {
            throw .noResponse(command: "AT (after ATZ)")
        }
    }

    /// Reads S12 (the escape guard time, in fiftieths of a second); keeps the configured or
    /// fallback guard if the modem does not say.
    private func readGuardTime() async {
        guard let response = try? await channel.send(ATCommand(.queryRegister(12)), timeout: timing.command),
              response.final == .ok,
              let text = response.info.first(where: { $0.contains(where: \.isNumber) }),
              let value = Int(text.filter { $0 != " " && $0 != "\t" }), (0...255).contains(value)
        else {
            logger.debug("S12 not readable: keeping the configured escape guard")
            return
        }
        guardTime = .milliseconds(value * 20)
        logger.debug("escape guard time", metadata: ["S12": "\(value)", "ms": "\(value * 20)"])
    }

    /// Sends the dial command (`ATD` + `dialString`, e.g. `T5551234`) and waits up to
    /// `timeout` for the outcome. Rings and connection details before `CONNECT` are
    /// collected; lines that are not results do not end the dial. When the deadline
    /// passes the dial is aborted.
    ///
    /// - Throws: ``ModemError/cancelled`` if the task is cancelled (the modem is still
    ///   dialing: call ``hangUp()`` next, which aborts it), ``ModemError/port(_:)``.
    public func dial(_ dialString: DialString, timeout: Duration) async throws(ModemError) -> DialOutcome {
        try await goOffHook(ATCommand(.dial(dialString)), timeout: timeout)
    }

    /// Answers a ringing call (`ATA`) and waits up to `timeout` for the handshake's outcome:
    /// `CONNECT`, or `NO CARRIER` when no carrier came (the caller hung up, or no modem
    /// called). Like a dial, the deadline aborts it and a cancelled task leaves it for
    /// ``hangUp()``.
    public func answer(timeout: Duration) async throws(ModemError) -> DialOutcome {
        try await goOffHook(ATCommand(.answer), timeout: timeout)
    }

    /// Writes `command` (a dial or `ATA`) and waits for its `CONNECT` or failure result.
    private func goOffHook(_ command: ATCommand, timeout: Duration) async throws(ModemError) -> DialOutcome {
        if channel.needsResync { try await channel.resynchronise() }
        try await channel.begin(command)
        mode = .dialing
        logger.info(command.body.hasPrefix("A") ? "answering" : "dialing", metadata: ["command": "\(command)"])
        var collector = ResponseCollector()
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let line = try await channel.nextLine(deadline: deadline) else {
                let junk = collector.collectedInfo + collector.collectedUnrecognised
                logger.info("deadline passed", metadata: ["command": "\(command)", "junk": "\(junk)"])
                _ = await abortDial()
                return .noResult(junk: junk)
            }
            // A data call never answers OK: that would be line noise completing a word.
            if line.response == .final(.ok) { continue }
            guard let response = collector.accept(line.response) else { continue }
            channel.noteFinal()
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

    // MARK: Incoming calls

    /// What a modem waiting for calls reports.
    public enum Incoming: Sendable, Equatable {
        /// `RING`: an incoming call rings (once per ring).
        case ring
        /// Any other line between rings: caller-ID text (`NMBR = 5551234`, `+CLIP: …`,
        /// an unformatted `MESG = …`), or noise. The caller decides what it is.
        case line(String)
    }

    /// Waits in command mode for what an idle modem says by itself: `RING`s and the lines
    /// between them. Returns the next one, or `nil` when `deadline` passes in silence (time
    /// to re-check the modem). Costs nothing while the line is quiet.
    ///
    /// - Throws: ``ModemError/port(_:)`` (unplugged), ``ModemError/cancelled``.
    public func nextIncoming(until deadline: ContinuousClock.Instant) async throws(ModemError) -> Incoming? {
        while let line = try await channel.nextLine(deadline: deadline) {
            switch line.response {
            case .ring: return .ring
            case .echo: continue
            case .info(let text), .unrecognised(let text): if !text.isEmpty { return .line(text) }
            default:
                // A final result nobody asked for (a late answer, noise): say what it was.
                return .line(line.line.text)
            }
        }
        return nil
    }

    /// Aborts a dial in progress: one CR (any byte does it), then waits for `NO CARRIER`
    /// (or `OK`). Returns whether the modem confirmed.
    @discardableResult
    public func abortDial() async -> Bool {
        guard mode == .dialing else { return true }
        do {
            try await channel.write([13])
            let deadline = ContinuousClock.now + timing.abortDial
            while let line = try await channel.nextLine(deadline: deadline) {
                if case .final = line.response {
                    mode = .command
                    channel.noteFinal()
                    return true
                }
            }
        } catch {}
        channel.needsResync = true
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
            for line in channel.decode(bytes) where line.response == .final(.noCarrier) {
                mode = .command
                logger.info("carrier lost", metadata: ["bytes": "\(bytesReceived)"])
                return .carrierLost
            }
            if watchesCarrier, port.carrierDetect() == false {
                mode = .command
                logger.info("carrier detect dropped", metadata: ["bytes": "\(bytesReceived)"])
                return .carrierLost
            }
        }
    }

    // MARK: Hang-up

    /// Puts the modem on-hook, escalating until it confirms (HAYES-REFERENCE §6):
    /// abort a dial in progress; in command mode, `ATH`; online, drop DTR until
    /// carrier-detect falls, `NO CARRIER` or `OK` arrives (at most ``ModemTiming/dtrDrop``,
    /// stretched to the escape guard); else `+++` after the modem's guard time of silence,
    /// then `ATH`, verified (carrier-detect low, or `ATO` not answering `CONNECT`); else
    /// report ``HangUpReport/Method/hupclClose``: the caller closes the port with `HUPCL`
    /// set. Every rung ends as soon as the modem answers, is bounded by ``ModemTiming`` and
    /// is logged with its duration. Never throws: the report says what was confirmed.
    public func hangUp() async -> HangUpReport {
        var steps: [HangUpReport.Step] = []
        func record(_ name: String, since start: ContinuousClock.Instant, _ outcome: String) {
            let step = HangUpReport.Step(name: name, duration: start.duration(to: .now), outcome: outcome)
            steps.append(step)
            logger.info("hang-up step", metadata: ["step": "\(name)", "outcome": "\(outcome)", "ms": "\(step.duration.milliseconds)"])
        }
        func finish(_ method: HangUpReport.Method, confirmed: Bool) -> HangUpReport {
            if confirmed { mode = .command }
            try? channel.flushInput()
            channel.clear()
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
        if !channel.hasAnswered {
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
                let response = try await channel.send(ATCommand(.hangUp), timeout: timing.command, resynchronising: false)
                record("ATH", since: start, "\(response.final)")
                if response.final == .ok { return finish(.commandMode, confirmed: true) }
            } catch {
                record("ATH", since: start, "\(error)")
                if case .port = error { return finish(.deviceGone, confirmed: false) }
            }
            // No sensible answer: the modem may be online after all. Escalate.
        }

        // Rung 1: DTR, low only until the modem confirms.
        if mode != .onlineCommand {
            start = .now
            do {
                let method = try port.lowerDTR()
                let seen = try await confirmAfterDTR(limit: max(timing.dtrDrop, escapeGuard))
                try port.raiseDTR(after: method)
                record("dtr", since: start, "\(method.rawValue): \(seen.rawValue)")
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
            let response = try await channel.send(ATCommand(.hangUp), timeout: timing.command, resynchronising: false)
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

    /// While DTR is low: carrier-detect low (ports with modem lines), `NO CARRIER` (hung
    /// up), or `OK` (`&D1`: online-command mode, call still up) — whichever comes first,
    /// for at most `limit`.
    private func confirmAfterDTR(limit: Duration) async throws(ModemError) -> DTRConfirmation {
        let deadline = ContinuousClock.now + limit
        let hasLines = (try? port.modemLines()) != nil
        while ContinuousClock.now < deadline {
            if hasLines, port.carrierDetect() == false { return .onHook }
            let step = hasLines ? min(deadline, .now + timing.carrierPoll) : deadline
            guard let line = try await channel.nextLine(deadline: step) else { continue }
            switch line.response {
            case .final(.noCarrier):
                channel.noteFinal()
                return .onHook
            case .final(.ok):
                channel.noteFinal()
                return .onlineCommand
            default: continue
            }
        }
        return .nothing
    }

    /// `+++` after the guard time of silence (counted from the last byte written, so time
    /// spent waiting on DTR counts), then the modem's `OK` after its own guard time; true
    /// if it came.
    private func escape() async -> Bool {
        let guardTime = escapeGuard
        do {
            try await channel.sleep(until: (channel.lastWrite ?? .now) + guardTime)
            try channel.flushInput()
            channel.clear()
            try await channel.write(ATCommand.escapeSequence() ?? [43, 43, 43])
            let deadline = ContinuousClock.now + guardTime + timing.hangUpConfirm
            while let line = try await channel.nextLine(deadline: deadline) {
                if line.response == .final(.ok) {
                    mode = .onlineCommand
                    channel.noteFinal()
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
        if let carrier = port.carrierDetect() { return !carrier }
        do {
            let response = try await channel.send(ATCommand(.online), timeout: timing.command, goesOnline: true, resynchronising: false)
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

    private func setIgnoresCarrier(_ ignores: Bool, hangUpOnClose: Bool = true) throws(SerialError) {
        var options = try port.currentOptions()
        options.ignoresCarrier = ignores
        options.hangUpOnClose = hangUpOnClose
        try port.configure(options)
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
