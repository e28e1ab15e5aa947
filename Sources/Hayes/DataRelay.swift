import Logging
import Serial
import Synchronization
import SystemIO

/// The traffic of one connection's data line: what the relay counted, read by statistics
/// and by the idle timer from any task.
public final class LineTraffic: Sendable {
    private let start = ContinuousClock.now
    private let sent = Atomic<Int>(0)
    private let received = Atomic<Int>(0)
    private let chunksSent = Atomic<Int>(0)
    private let chunksReceived = Atomic<Int>(0)
    private let overruns = Atomic<Int>(0)
    /// Nanoseconds from `start` to the last byte in either direction.
    private let lastActivityNanoseconds = Atomic<Int64>(0)

    /// Counters at zero; the idle clock starts now.
    public init() {}

    /// A copy of the counters.
    public struct Snapshot: Sendable, Equatable {
        /// Bytes from the program to the modem.
        public var bytesSent: Int
        /// Bytes from the modem to the program.
        public var bytesReceived: Int
        /// Writes to the modem (one per chunk the program's write delivered).
        public var chunksSent: Int
        /// Reads from the modem.
        public var chunksReceived: Int
        /// Bytes from the modem dropped because no program read them and the bounded
        /// buffer was full.
        public var bufferOverruns: Int
    }

    /// The counters now.
    public var snapshot: Snapshot {
        Snapshot(
            bytesSent: sent.load(ordering: .relaxed), bytesReceived: received.load(ordering: .relaxed),
            chunksSent: chunksSent.load(ordering: .relaxed), chunksReceived: chunksReceived.load(ordering: .relaxed),
            bufferOverruns: overruns.load(ordering: .relaxed))
    }

    /// When a byte last passed in either direction (the start when none has).
    public var lastActivity: ContinuousClock.Instant {
        start + .nanoseconds(lastActivityNanoseconds.load(ordering: .relaxed))
    }

    func countSent(_ count: Int) {
        sent.add(count, ordering: .relaxed)
        chunksSent.add(1, ordering: .relaxed)
        touch()
    }

    func countReceived(_ count: Int) {
        received.add(count, ordering: .relaxed)
        chunksReceived.add(1, ordering: .relaxed)
        touch()
    }

    func countOverrun(_ count: Int) { overruns.add(count, ordering: .relaxed) }

    private func touch() {
        let elapsed = start.duration(to: .now)
        let (seconds, attoseconds) = elapsed.components
        lastActivityNanoseconds.store(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, ordering: .relaxed)
    }
}

/// Finds `NO CARRIER` at the start of a line in a byte stream cut into arbitrary chunks.
struct NoCarrierMatcher {
    private static let pattern = Array("\nNO CARRIER\r".utf8)
    private var matched = 0

    /// Whether the pattern ends within `bytes` (given in stream order across calls).
    mutating func feed(_ bytes: some Sequence<UInt8>) -> Bool {
        var found = false
        for byte in bytes {
            if byte == Self.pattern[matched] {
                matched += 1
                if matched == Self.pattern.count {
                    found = true
                    matched = 0
                }
            } else {
                // Only the leading "\n" can restart a match ("\n" occurs once in the pattern).
                matched = byte == Self.pattern[0] ? 1 : 0
            }
        }
        return found
    }
}

extension ModemSession {
    /// Size of one read from either side.
    static let relayChunk = 16 * 1024
    /// What the relay keeps for a program that is not attached, once the pty's own buffer
    /// is full; more is dropped and counted (``LineTraffic/Snapshot/bufferOverruns``).
    public static let detachedBufferLimit = 64 * 1024
    /// How long a program gets to read the modem's last bytes before a carrier loss hangs
    /// its data path up.
    static let finalReadGrace = Duration.milliseconds(20)
    /// How often a line with no program attached looks for one.
    static let attachPoll = Duration.milliseconds(100)

    /// While online, copies bytes both ways between the modem and `line` (a pty whose slave
    /// a program opens like a serial port) until the connection ends by itself, as
    /// ``waitForDisconnect(idleLimit:)`` does: carrier lost, device gone, or no byte in
    /// either direction for `idleLimit`.
    ///
    /// - Nothing is lost, duplicated or reordered; every byte value passes, `+++` included
    ///   (the modem's guard time, not the relay, decides what an escape is).
    /// - A program that reads slowly is back-pressured: the modem port is not read until the
    ///   pty takes the bytes, so the driver's flow control (RTS/CTS) pauses the modem.
    /// - With no program attached, modem data goes to the pty's buffer, then to a bounded
    ///   buffer of ``detachedBufferLimit`` bytes; beyond that it is dropped and counted.
    /// - Speed and RTS/CTS the program sets on the slave are applied to the port (checked
    ///   when the program writes or attaches).
    /// - On ports without modem lines `NO CARRIER` at the start of a line ends the call (it
    ///   is passed on first); on ports with modem lines only carrier-detect does.
    ///
    /// - Throws: ``ModemError/cancelled`` when the task is cancelled (our own hang-up).
    public func carryData(
        through line: PseudoTerminal, traffic: LineTraffic, idleLimit: Duration? = nil
    ) async throws(ModemError) -> OnlineEnd {
        let port = self.port
        let watchesCarrier = (try? port.modemLines()) != nil
        let poll = timing.carrierPoll
        let logger = self.logger
        let follower = SettingsFollower(line: line, port: port, logger: logger)
        let end: OnlineEnd? = await withTaskGroup(of: OnlineEnd?.self) { group in
            group.addTask {
                await Self.modemToProgram(
                    port: port, line: line, traffic: traffic, watchesCarrier: watchesCarrier, poll: poll,
                    idleLimit: idleLimit, logger: logger)
            }
            group.addTask { await Self.programToModem(port: port, line: line, traffic: traffic, follower: follower) }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let end else { throw .cancelled }
        mode = .command
        let counts = traffic.snapshot
        logger.info("online ended", metadata: [
            "end": "\(end)", "sent": "\(counts.bytesSent)", "received": "\(counts.bytesReceived)",
        ])
        return end
    }

    /// The end for a port that failed while online.
    private static func end(for error: SerialError, port: any ModemPort) -> OnlineEnd? {
        if case .cancelled = error { return nil }
        return port.deviceIsPresent ? .carrierLost : .deviceGone(error)
    }

    private static func modemToProgram(
        port: any ModemPort, line: PseudoTerminal, traffic: LineTraffic, watchesCarrier: Bool, poll: Duration,
        idleLimit: Duration?, logger: Logger
    ) async -> OnlineEnd? {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: relayChunk)
        var matcher = NoCarrierMatcher()
        /// The last write found no program on the slave (checked only when the pty is full).
        var detached = false
        do throws(SerialError) {
            while !Task.isCancelled {
                if !pending.isEmpty {
                    let written = try line.writeNow(pending)
                    pending.removeFirst(written)
                    if written > 0 { detached = false }
                }
                let now = ContinuousClock.now
                if let idleLimit, traffic.lastActivity + idleLimit <= now {
                    logger.info("idle", metadata: ["seconds": "\(idleLimit)"])
                    return .idle
                }
                var deadlines: [ContinuousClock.Instant] = []
                if let idleLimit { deadlines.append(traffic.lastActivity + idleLimit) }
                if watchesCarrier { deadlines.append(ReactorClock.nextTick(every: poll)) }
                if !pending.isEmpty {
                    if !detached {
                        // Back-pressure: the port is not read until the program takes these.
                        _ = try await line.waitUntilWritable(deadline: deadlines.min())
                        if watchesCarrier, port.carrierDetect() == false {
                            return .carrierLost
                        }
                        let written = try line.writeNow(pending)
                        pending.removeFirst(written)
                        // No room although the wait said so: the master reports a closed slave.
                        if written == 0 && !line.isSlaveOpen { detached = true }
                        continue
                    }
                    // Nobody reads: keep reading the modem, and look for a reader now and then.
                    deadlines.append(ReactorClock.nextTick(every: attachPoll))
                }
                let count = try await port.read(into: &buffer, deadline: deadlines.min())
                let bytes = buffer[..<count]
                if bytes.isEmpty {
                    if watchesCarrier, port.carrierDetect() == false {
                        logger.info("carrier detect dropped")
                        return .carrierLost
                    }
                    continue
                }
                traffic.countReceived(bytes.count)
                let carrierEnded = !watchesCarrier && matcher.feed(bytes)
                if pending.isEmpty {
                    let written = try line.writeNow(bytes)
                    if written > 0 { detached = false }
                    pending.append(contentsOf: bytes[(bytes.startIndex + written)...])
                } else {
                    pending.append(contentsOf: bytes)
                }
                if pending.count > detachedBufferLimit {
                    let excess = pending.count - detachedBufferLimit
                    traffic.countOverrun(excess)
                    pending.removeLast(excess)
                }
                if carrierEnded {
                    logger.info("carrier lost (NO CARRIER)")
                    // Closing the pty hangs its slave up, which discards what the program has
                    // not read yet: give it a moment to read the modem's last words.
                    if line.isSlaveOpen { try? await Task.sleep(for: finalReadGrace) }
                    return .carrierLost
                }
            }
            return nil
        } catch {
            return end(for: error, port: port)
        }
    }

    private static func programToModem(
        port: any ModemPort, line: PseudoTerminal, traffic: LineTraffic, follower: SettingsFollower
    ) async -> OnlineEnd? {
        var buffer = [UInt8](repeating: 0, count: relayChunk)
        do throws(SerialError) {
            while !Task.isCancelled {
                let count = try line.readNow(into: &buffer)
                if count > 0 {
                    follower.follow()
                    try await port.write(buffer[..<count])
                    traffic.countSent(count)
                    continue
                }
                switch try await line.waitForActivity(deadline: nil) {
                case .readable, .timedOut:
                    continue
                case .slaveClosed:
                    do { try await Task.sleep(until: ReactorClock.nextTick(every: attachPoll)) } catch { return nil }
                    follower.follow()
                }
            }
            return nil
        } catch {
            if case .closed = error { return nil }
            return end(for: error, port: port)
        }
    }

}

/// Applies to the modem port the speed and RTS/CTS a program sets on its data line.
///
/// What counts as a change is measured against the port's own settings when the relay
/// starts (the line was made with them), not against a sample of the line: a program may
/// open the line and set it before the relay's first look, and that change still counts.
final class SettingsFollower: Sendable {
    /// The two settings that pass from the line to the port.
    struct Applied: Equatable {
        var speed: BaudRate?
        var hardwareFlowControl: Bool

        init(_ options: SerialOptions) {
            (speed, hardwareFlowControl) = (options.speed, options.flowControl == .hardware)
        }

        init(_ settings: PseudoTerminal.SlaveSettings) {
            (speed, hardwareFlowControl) = (settings.speed, settings.hardwareFlowControl)
        }
    }

    private let line: PseudoTerminal
    private let port: any ModemPort
    private let logger: Logger
    private let seen: Mutex<Applied?>

    init(line: PseudoTerminal, port: any ModemPort, logger: Logger) {
        self.line = line
        self.port = port
        self.logger = logger
        seen = Mutex((try? port.currentOptions()).map(Applied.init) ?? (try? line.slaveSettings()).map(Applied.init))
    }

    /// Applies what changed on the slave since the last look.
    func follow() {
        guard let now = (try? line.slaveSettings()).map(Applied.init) else { return }
        let before = seen.withLock { seen in
            let before = seen
            seen = now
            return before
        }
        guard let before, before != now, var options = try? port.currentOptions() else { return }
        if now.speed != before.speed, let speed = now.speed { options.speed = speed }
        if now.hardwareFlowControl != before.hardwareFlowControl {
            options.flowControl = now.hardwareFlowControl ? .hardware : .none
        }
        do {
            try port.configure(options)
            logger.info("data line settings applied to the port", metadata: [
                "speed": "\(options.speed)", "flowControl": "\(options.flowControl)",
            ])
        } catch {
            logger.warning("could not apply the data line's settings", metadata: ["error": "\(error)"])
        }
    }
}
