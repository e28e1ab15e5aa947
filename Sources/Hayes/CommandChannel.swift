import Logging
import Serial
import Synchronization

/// What a channel learned about the modem on one port: the pause it needs between a
/// result and the next command, and how long its silence may last before a command counts
/// as lost. Kept per port path for the next session on the same port.
public struct CommandPacing: Sendable, Equatable, CustomStringConvertible {
    /// Pause after a final result before the next command line.
    public var interCommand: Duration
    /// Silence (no echo, no byte) after a command line that makes it count as lost.
    public var lossWindow: Duration

    /// A pacing.
    public init(interCommand: Duration, lossWindow: Duration) {
        self.interCommand = interCommand
        self.lossWindow = lossWindow
    }

    public var description: String {
        "inter-command \(interCommand.milliseconds) ms, loss window \(lossWindow.milliseconds) ms"
    }

    /// The pacing learned for each port path in this process.
    private static let learned = Mutex<[String: CommandPacing]>([:])

    /// What was learned for `path`, if anything.
    public static func learned(for path: String) -> CommandPacing? {
        learned.withLock { $0[path] }
    }

    /// Remembers `pacing` for `path`.
    static func remember(_ pacing: CommandPacing, for path: String) {
        learned.withLock { $0[path] = pacing }
    }

    /// Forgets what was learned for `path` (tests; a modem swapped on a port).
    public static func forget(_ path: String) {
        _ = learned.withLock { $0.removeValue(forKey: path) }
    }
}

/// One AT command at a time on an open port: the only loop in swift-ras that writes a
/// command line and reads its answer. ``ModemSession`` owns one (init, dial, hang-up);
/// discovery probes through a session too.
///
/// For each line it paces (the learned pause after the last final result; none by
/// default), flushes stale input, writes the line, expects its echo, and reads until the
/// final result or the deadline. A timeout marks the channel for resynchronisation: the
/// next command first flushes and sends bare `AT` until `OK`, so that a late result is
/// never read as the next command's answer.
///
/// **Lost commands.** A command that may be repeated (no dial, answer, hook or online
/// command) and gets neither echo nor any byte within the loss window is written
/// again after a pause that doubles (100, 200, 400 … ms). When the repeat is answered the
/// channel listens once more for a second answer: if one comes, the modem was only slow
/// (the loss window grows past its response time); if none comes, the first line was
/// lost and the pause becomes the port's pacing. Either way it is remembered for the port
/// (``CommandPacing/learned(for:)``).
///
/// The channel is owned by one task or actor at a time; its methods run on the caller's
/// executor.
final class CommandChannel {
    /// The port.
    let port: any ModemPort
    /// The time limits.
    let timing: ModemTiming
    /// Log lines go here.
    var logger: Logger
    /// The pacing in use (configured, learned, or both: the larger of each).
    private(set) var pacing: CommandPacing
    /// Whether the next command must first resynchronise (after a timeout).
    var needsResync = false
    /// Whether the modem has given any final result on this channel.
    private(set) var hasAnswered = false
    /// When the last final result arrived.
    private(set) var lastFinal: ContinuousClock.Instant?
    /// When the last byte was written (the start of the silence before `+++`).
    private(set) var lastWrite: ContinuousClock.Instant?
    /// The last lines heard that were not part of an answer (for "not a modem" reports).
    private(set) var heard: [String] = []

    /// Numeric mode on: a digits line ended by a lone CR is a V0 result, one ended by CR LF
    /// is info, and verbal results are recognised as always — so the channel understands a
    /// modem in V0 or V1 without having to know which.
    private var decoder = ResponseDecoder(parser: ResultParser(numericMode: true))
    private var pending: [DecodedLine] = []

    /// The first pause before a lost command is written again, and the first pacing learned
    /// from a loss (V.250 modems that need a pause want about this much).
    static let firstRepeatPause = Duration.milliseconds(100)
    /// The longest pause between repeats of a lost command.
    static let maximumRepeatPause = Duration.seconds(1)
    /// How many times a lost command is written again.
    static let maximumRepeats = 4

    /// A channel on an open port. The pacing starts from `timing.interCommand` and
    /// `timing.lostCommandWindow`, raised to what was learned for this port before.
    init(port: any ModemPort, timing: ModemTiming, logger: Logger) {
        self.port = port
        self.timing = timing
        self.logger = logger
        var pacing = CommandPacing(interCommand: timing.interCommand, lossWindow: timing.lostCommandWindow)
        if let learned = CommandPacing.learned(for: port.path) {
            pacing.interCommand = max(pacing.interCommand, learned.interCommand)
            pacing.lossWindow = max(pacing.lossWindow, learned.lossWindow)
        }
        self.pacing = pacing
    }

    // MARK: Commands

    /// Sends one command line and waits for its final result.
    ///
    /// - Parameters:
    ///   - goesOnline: the command can be answered `CONNECT` (`ATO`); for any other
    ///     command a `CONNECT` is line noise completing a word and is skipped.
    ///   - resynchronising: resynchronise first if a timeout left the channel unsure.
    ///   - polling: ask again every this long while the modem stays silent (no echo, no
    ///     byte), until `timeout` — asking a modem whether it is ready. Nothing is learned
    ///     from such silence.
    /// - Throws: ``ModemError/noResponse(command:)`` when the deadline passes,
    ///   ``ModemError/port(_:)``, ``ModemError/cancelled``.
    nonisolated(nonsending) func send(
        _ command: ATCommand, timeout: Duration, goesOnline: Bool = false, resynchronising: Bool = true,
        polling: Duration? = nil
    ) async throws(ModemError) -> CommandResponse {
        if resynchronising && needsResync { try await resynchronise() }
        let repeatable = command.isRepeatable
        // A loss right after a result of ours says the modem needs a pause; a loss with no
        // result before it (the first command on the port) says nothing about pacing.
        let followsResult = lastFinal != nil
        try await begin(command)
        let started = ContinuousClock.now
        let deadline = started + timeout
        var collector = ResponseCollector()
        var repeats = 0
        var repeatPause: Duration?
        var lastLineWrite = ContinuousClock.now
        var heardSinceWrite = false
        while true {
            let lossDeadline = lastLineWrite + (polling ?? pacing.lossWindow)
            let watchesLoss = repeatable && !heardSinceWrite && lossDeadline < deadline
                && (polling != nil || repeats < Self.maximumRepeats)
            let (line, heardBytes) = try await nextLineNoting(deadline: watchesLoss ? lossDeadline : deadline)
            if heardBytes { heardSinceWrite = true }
            guard let line else {
                if watchesLoss && !heardSinceWrite {
                    repeats += 1
                    if polling != nil {
                        try await begin(command)
                        lastLineWrite = .now
                        continue
                    }
                    // Neither echo nor answer: the modem lost the line (sent too soon).
                    let pause = repeatPause.map { min($0 * 2, Self.maximumRepeatPause) }
                        ?? max(pacing.interCommand * 2, Self.firstRepeatPause)
                    repeatPause = pause
                    logger.debug("no echo and no answer: sending again", metadata: [
                        "command": "\(command)", "pause-ms": "\(pause.milliseconds)", "repeat": "\(repeats)",
                    ])
                    try await sleep(pause)
                    try await begin(command)
                    lastLineWrite = .now
                    continue
                }
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
            guard let response = collector.accept(line.response) else {
                if !line.line.isEcho, !line.line.text.isEmpty { remember(line.line.text) }
                continue
            }
            noteFinal()
            logger.debug("command", metadata: [
                "command": "\(command)", "result": "\(response.final)",
                "ms": "\(started.duration(to: .now).milliseconds)",
            ])
            if let polling, repeats > 0 {
                // A line taken before the one answered may still be answered: let it pass.
                try await drainFinal(until: .now + polling)
            } else if let repeatPause {
                try await learn(after: command, repeats: repeats, pause: repeatPause, firstWrite: started, teachesPacing: followsResult)
            }
            return response
        }
    }

    /// Reads until a final result or `deadline`; whether one came.
    @discardableResult
    private nonisolated(nonsending) func drainFinal(until deadline: ContinuousClock.Instant) async throws(ModemError) -> Bool {
        while let line = try await nextLine(deadline: deadline) {
            if case .final = line.response { return true }
        }
        return false
    }

    /// After a repeated command was answered: a second answer means the modem was slow (the
    /// loss window grows past its response time, and the answers to the other copies are
    /// let pass); none means the first line was lost (the pause becomes the pacing).
    ///
    /// A second answer comes at most one response time (`answeredAfter`) after the first.
    private nonisolated(nonsending) func learn(
        after command: ATCommand, repeats: Int, pause: Duration, firstWrite: ContinuousClock.Instant, teachesPacing: Bool
    ) async throws(ModemError) {
        let answeredAfter = firstWrite.duration(to: .now)
        let margin = Duration.milliseconds(50)
        if try await drainFinal(until: .now + answeredAfter + margin) {
            for _ in 1..<max(repeats, 1) {
                guard try await drainFinal(until: .now + answeredAfter + margin) else { break }
            }
            pacing.lossWindow = max(pacing.lossWindow, answeredAfter * 2)
            logger.info("modem answers slowly: waiting longer before repeating a command", metadata: ["pacing": "\(pacing)"])
        } else if !teachesPacing {
            logger.info("the first command on the port was lost; nothing learned", metadata: ["command": "\(command)"])
            noteFinal()
            return
        } else {
            pacing.interCommand = max(pacing.interCommand, pause)
            logger.info("modem lost a command sent too soon: pausing between commands", metadata: ["pacing": "\(pacing)"])
        }
        CommandPacing.remember(pacing, for: port.path)
        noteFinal()
    }

    /// Paces, flushes stale input, expects the echo of `command` and writes it. The caller
    /// reads the answer (``nextLine(deadline:)``): ``send(_:timeout:goesOnline:resynchronising:)``
    /// does, and so does a dial, whose answer may take a minute.
    nonisolated(nonsending) func begin(_ command: ATCommand) async throws(ModemError) {
        try await pace()
        try flushInput()
        pending.removeAll()
        decoder.reset()
        decoder.expectEcho(command)
        try await write(command.encoded())
    }

    /// Flushes stale input and sends bare `AT` until the modem answers `OK` — after a
    /// timeout a late result must not be read as the answer to the next command.
    nonisolated(nonsending) func resynchronise() async throws(ModemError) {
        needsResync = false
        for _ in 0..<3 {
            do {
                let response = try await send(.attention, timeout: timing.command, resynchronising: false)
                if response.final == .ok { return }
            } catch .noResponse {
                continue
            }
        }
        needsResync = true
        throw .noResponse(command: "AT")
    }

    /// Records that a final result arrived now (for pacing).
    func noteFinal() {
        lastFinal = .now
        hasAnswered = true
    }

    // MARK: Lines and bytes

    /// The next decoded line, or `nil` when `deadline` passes first. A pending line ended
    /// by a lone CR is completed after ``ModemTiming/quietFlush`` of silence.
    nonisolated(nonsending) func nextLine(deadline: ContinuousClock.Instant) async throws(ModemError) -> DecodedLine? {
        try await nextLineNoting(deadline: deadline).line
    }

    /// ``nextLine(deadline:)``, also telling whether any byte arrived meanwhile.
    private nonisolated(nonsending) func nextLineNoting(deadline: ContinuousClock.Instant) async throws(ModemError) -> (line: DecodedLine?, heardBytes: Bool) {
        var heardBytes = false
        while true {
            if !pending.isEmpty { return (pending.removeFirst(), heardBytes) }
            let now = ContinuousClock.now
            if now >= deadline && !decoder.hasPendingLine { return (nil, heardBytes) }
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
                if pending.isEmpty && ContinuousClock.now >= deadline { return (nil, heardBytes) }
                continue
            }
            heardBytes = true
            logger.trace("received", metadata: ["bytes": "\(bytes.escapedForLog)"])
            pending += decoder.feed(bytes)
        }
    }

    /// Feeds bytes read elsewhere (while online) to the decoder; returns the lines.
    func decode(_ bytes: [UInt8]) -> [DecodedLine] { decoder.feed(bytes) }

    /// Writes raw bytes (a CR, `+++`).
    nonisolated(nonsending) func write(_ bytes: [UInt8]) async throws(ModemError) {
        logger.trace("sending", metadata: ["bytes": "\(bytes.escapedForLog)"])
        do {
            try await port.write(bytes, deadline: .now + timing.command)
        } catch .cancelled {
            throw .cancelled
        } catch {
            throw .port(error)
        }
        lastWrite = .now
    }

    /// Discards unread input, in the kernel and in the decoder.
    func flushInput() throws(ModemError) {
        do { try port.flush(.input) } catch { throw .port(error) }
    }

    /// Forgets partial lines and unread answers.
    func clear() {
        decoder.reset()
        pending.removeAll()
    }

    /// Keeps at least the pacing's inter-command pause between a final result and the next line.
    private nonisolated(nonsending) func pace() async throws(ModemError) {
        guard let lastFinal, pacing.interCommand > .zero else { return }
        let ready = lastFinal + pacing.interCommand
        if ready > .now { try await sleep(ContinuousClock.now.duration(to: ready)) }
    }

    /// Sleeps, or throws ``ModemError/cancelled``.
    nonisolated(nonsending) func sleep(_ duration: Duration) async throws(ModemError) {
        guard duration > .zero else { return }
        do { try await Task.sleep(for: duration) } catch { throw .cancelled }
    }

    /// Sleeps until `instant`, or throws ``ModemError/cancelled``.
    nonisolated(nonsending) func sleep(until instant: ContinuousClock.Instant) async throws(ModemError) {
        try await sleep(ContinuousClock.now.duration(to: instant))
    }

    private func remember(_ text: String) {
        heard.append(String(text.prefix(80)))
        if heard.count > 3 { heard.removeFirst() }
    }
}

extension ATCommand {
    /// Whether writing this line again after it got neither echo nor answer does no harm:
    /// no dial, answer, hook or online command (a reset twice is still one reset; a second
    /// answer is caught, see ``CommandChannel``). A line that cannot be parsed is not
    /// repeatable.
    var isRepeatable: Bool {
        guard let parsed = try? ATCommandLine(line: description) else { return false }
        return !parsed.commands.contains { command in
            switch command.kind {
            case .dial: return true
            case .basic: return ["A", "O", "H"].contains(command.name.uppercased())
            default: return false
            }
        }
    }
}
