import Hayes

/// The state machine of one listening line (issue 13's `Answer=1` entries), as a pure
/// function: `step(state, event) -> (state, effects)`, like ``DialMachine``.
///
/// The line holds its port and lock, initialises the modem (`S0=0`: we answer, the modem
/// does not; caller ID on), and waits. Each `RING` is counted and reported; caller ID
/// between rings is kept and reported; once ``State/answerAfterRings`` rings have come and
/// the ``CallerPolicy`` admits the caller, it answers (`ATA`) — a policy with patterns waits
/// for the caller ID (or the second ring, after which none will come). A rejected caller is never
/// answered: the rings are ignored until they stop. Answering hands the call over to a
/// new incoming connection, which sends `ATA` and uses the port until it ends; then the modem
/// is initialised again and the line waits for the next call. The modem is also re-checked
/// every ``State/recheckEvery`` while idle, and a modem that stops answering is retried
/// every ``State/retryPause`` (and reported) until it answers again or the line is stopped;
/// a port that goes away (unplugged) is released and opened again every retry pause.
///
/// ``ConnectionManager`` drives one per listening line (`rasdial ENTRY --listen`).
public enum ListenMachine {
    /// Where the line is.
    public enum Phase: String, Sendable, Hashable, Codable {
        /// Created, not started.
        case idle
        /// Opening and locking the port.
        case openingPort
        /// Initialising the modem.
        case initializing
        /// Waiting for a call.
        case waiting
        /// A call rings (``State/rings`` so far).
        case ringing
        /// A rejected call rings: ignored until the rings stop.
        case rejecting
        /// Answering: the incoming connection sent `ATA` and waits for `CONNECT`.
        case answering
        /// A call is up; the incoming connection owns the port.
        case inCall
        /// The modem stopped answering; waiting to try again.
        case retrying
        /// Being stopped: the port is being released.
        case stopping
        /// Stopped: nothing held.
        case stopped
    }

    /// What happened.
    public enum Event: Sendable, Equatable {
        /// Start listening.
        case start
        /// The port is open and locked.
        case portOpened
        /// The port could not be opened: the line stops with the error.
        case portFailed(RasError)
        /// The modem is initialised (caller ID on if it can).
        case modemReady
        /// The modem did not answer the init: retry after the pause.
        case modemFailed(RasError)
        /// `RING`.
        case ring
        /// Caller ID arrived (between rings).
        case callerID(CallerID)
        /// No `RING` for longer than a ring period: the caller gave up.
        case ringsStopped
        /// `ATA`'s outcome, as the incoming connection got it.
        case answered(DialMachine.ModemOutcome)
        /// The incoming connection ended and gave the port back.
        case callEnded
        /// Time to check the idle modem again (or to retry a silent one).
        case timerFired
        /// Stop listening.
        case stopRequested
        /// The port is closed and unlocked.
        case portClosed
        /// The device failed (unplugged): retry after the pause, the port reopened.
        case deviceFailed
    }

    /// What a listener reports to watchers (`--watch`: `ring`, `caller-id`, `answer`,
    /// `reject`), and to the log.
    public enum Report: Sendable, Equatable {
        /// The modem is initialised and the line waits for calls (first time, and after a problem).
        case listening
        /// Ring number `n` of the current call.
        case ring(Int)
        /// The caller, as far as known.
        case callerID(CallerID)
        /// Answering the call (after `rings` rings).
        case answer(rings: Int)
        /// Not answering: the policy said no.
        case reject(CallerPolicy.Decision)
        /// The answer did not connect.
        case answerFailed(RasError)
        /// The modem stopped answering (or the port failed); retrying.
        case modemProblem(RasError)
    }

    /// What the listener must do, in order.
    public enum Effect: Sendable, Equatable {
        /// Open and lock the port; report ``Event/portOpened`` or ``Event/portFailed(_:)``.
        case openPort
        /// Initialise the modem (with `S0=0` and caller ID on); report ``Event/modemReady``
        /// or ``Event/modemFailed(_:)``.
        case initializeModem
        /// Wait for what the modem says by itself; report ``Event/ring``,
        /// ``Event/callerID(_:)``, ``Event/ringsStopped``.
        case waitForCalls
        /// Start an incoming connection with this caller: it sends `ATA` and walks
        /// ConnectDevice … Connected, using the port until it ends. Report ``Event/answered(_:)``
        /// with `ATA`'s outcome, and ``Event/callEnded`` once the connection put the modem
        /// on-hook and gave the port back.
        case handOverCall(CallerID?)
        /// Start the timer; report ``Event/timerFired``.
        case startTimer(after: Duration)
        /// Stop the timer.
        case cancelTimer
        /// Tell watchers.
        case report(Report)
        /// Put the modem on-hook if needed, close and unlock the port; report ``Event/portClosed``.
        case releasePort
    }

    /// Everything the machine knows about one line.
    public struct State: Sendable, Equatable {
        /// Where the line is.
        public fileprivate(set) var phase: Phase = .idle
        /// Rings of the current call.
        public fileprivate(set) var rings = 0
        /// The current call's caller ID, once it came.
        public fileprivate(set) var caller: CallerID?
        /// Calls answered and connected.
        public fileprivate(set) var callsTaken = 0
        /// The last caller seen (answered or not).
        public fileprivate(set) var lastCaller: CallerID?
        /// The last problem (a modem that stopped answering, a port that failed).
        public fileprivate(set) var lastError: RasError?
        /// Whether the port is open (and locked) now.
        public fileprivate(set) var holdsPort = false
        /// Whether the line got as far as its first init: from then on a port that fails or
        /// goes away is retried instead of ending the line.
        public fileprivate(set) var hasListened = false
        /// Answer after this many rings (`AnswerAfterRings`, at least 1).
        public let answerAfterRings: Int
        /// Which callers are answered.
        public let policy: CallerPolicy
        /// How often an idle modem is checked again.
        public let recheckEvery: Duration
        /// The pause before trying a silent modem again.
        public let retryPause: Duration
        /// Whether caller ID is turned on: then the line answers no earlier than the caller
        /// ID (or the second ring, when none comes), so the call has it.
        public let waitsForCallerID: Bool

        /// A line that is not listening yet.
        public init(
            answerAfterRings: Int = 1, policy: CallerPolicy = CallerPolicy(), recheckEvery: Duration = .seconds(300),
            retryPause: Duration = .seconds(10), waitsForCallerID: Bool = false
        ) {
            self.waitsForCallerID = waitsForCallerID
            self.answerAfterRings = max(1, answerAfterRings)
            self.policy = policy
            self.recheckEvery = recheckEvery
            self.retryPause = retryPause
        }
    }

    /// Applies `event` to `state`: the next state and the effects to perform, in order.
    /// An event that makes no sense in the current phase changes nothing.
    public static func step(_ state: State, _ event: Event) -> (State, [Effect]) {
        var next = state
        let effects = next.apply(event)
        return (next, effects)
    }
}

extension ListenMachine.State {
    fileprivate typealias Effect = ListenMachine.Effect

    fileprivate mutating func apply(_ event: ListenMachine.Event) -> [Effect] {
        switch (phase, event) {
        case (.idle, .start):
            phase = .openingPort
            return [.openPort]
        case (.openingPort, .portOpened):
            holdsPort = true
            phase = .initializing
            return [.initializeModem]
        case (.openingPort, .portFailed(let error)):
            lastError = error
            guard hasListened else {
                phase = .stopped
                return [.report(.modemProblem(error))]
            }
            // The port went away while listening (unplugged): wait for it to come back.
            phase = .retrying
            return [.report(.modemProblem(error)), .startTimer(after: retryPause)]
        case (.initializing, .modemReady):
            let announce = !hasListened || lastError != nil
            hasListened = true
            lastError = nil
            return (announce ? [.report(.listening)] : []) + waitForNextCall()
        case (.initializing, .modemFailed(let error)):
            hasListened = true
            lastError = error
            phase = .retrying
            return [.report(.modemProblem(error)), .startTimer(after: retryPause)]
        case (.retrying, .timerFired):
            if holdsPort {
                phase = .initializing
                return [.initializeModem]
            }
            phase = .openingPort
            return [.openPort]
        case (.waiting, .timerFired):
            // Is the modem still there and set up? (It may have reset itself.)
            phase = .initializing
            return [.initializeModem]
        case (.waiting, .ring), (.ringing, .ring):
            return ring()
        case (.rejecting, .ring):
            rings += 1
            return [.waitForCalls]
        case (.waiting, .callerID(let caller)), (.ringing, .callerID(let caller)):
            self.caller = caller
            lastCaller = caller
            let effects: [Effect] = [.report(.callerID(caller))]
            // Between rings: the caller is known now, so the decision need not wait for the
            // next ring.
            return effects + (phase == .ringing ? decide() : [.waitForCalls])
        case (.rejecting, .callerID(let caller)):
            self.caller = caller
            lastCaller = caller
            return [.waitForCalls]
        case (.ringing, .ringsStopped), (.rejecting, .ringsStopped):
            // The caller gave up (or was never answered): ready for the next call.
            return waitForNextCall()
        case (.answering, .answered(let outcome)):
            guard let error = outcome.rasError else {
                callsTaken += 1
                phase = .inCall
                return []
            }
            // The connection ends (679 …) and gives the port back: callEnded follows.
            return [.report(.answerFailed(error))]
        case (.answering, .callEnded), (.inCall, .callEnded):
            // Re-arm at once: the connection has put the modem on-hook again.
            phase = .initializing
            return [.initializeModem]
        case (.stopping, .portOpened):
            holdsPort = true
            return releasePort()
        case (.stopping, .portFailed):
            phase = .stopped
            return []
        case (.stopping, .portClosed):
            phase = .stopped
            return []
        case (.stopping, .callEnded):
            // Stopped during a call: the connection gave the port back; release it now.
            return releasePort()
        case (.stopping, _), (.stopped, _):
            return []
        case (.inCall, .stopRequested), (.answering, .stopRequested):
            // The call goes on; the port is released when the connection gives it back.
            phase = .stopping
            return []
        case (.openingPort, .stopRequested):
            // The open's answer releases what it opened.
            phase = .stopping
            return []
        case (_, .stopRequested):
            let timed = phase == .waiting || phase == .retrying
            let effects: [Effect] = timed ? [.cancelTimer] : []
            guard holdsPort else {
                phase = .stopped
                return effects
            }
            phase = .stopping
            return effects + releasePort()
        case (let current, .deviceFailed) where ![.idle, .inCall, .answering, .stopping, .stopped].contains(current):
            lastError = .hardwareFailure
            phase = .retrying
            rings = 0
            caller = nil
            let release = holdsPort ? releasePort() : []
            return [.cancelTimer, .report(.modemProblem(.hardwareFailure))] + release + [.startTimer(after: retryPause)]
        default:
            return []
        }
    }

    private mutating func releasePort() -> [Effect] {
        holdsPort = false
        return [.releasePort]
    }

    private mutating func waitForNextCall() -> [Effect] {
        phase = .waiting
        rings = 0
        caller = nil
        return [.startTimer(after: recheckEvery), .waitForCalls]
    }

    private mutating func ring() -> [Effect] {
        var effects: [Effect] = []
        if phase == .waiting { effects.append(.cancelTimer) }
        phase = .ringing
        rings += 1
        effects.append(.report(.ring(rings)))
        return effects + decide()
    }

    /// In ``ListenMachine/Phase/ringing``: reject, answer, or wait for more rings or the caller ID.
    private mutating func decide() -> [Effect] {
        // Caller ID comes between the first and second ring: a policy that looks at the
        // caller waits for it, or for the second ring; a caller it rejects is rejected at once.
        let needsCaller = waitsForCallerID || !policy.allow.isEmpty || !policy.reject.isEmpty
        if caller != nil || rings >= 2, case .reject = policy.decide(caller) { return reject() }
        guard rings >= answerAfterRings, caller != nil || !needsCaller || rings >= 2 else {
            return [.waitForCalls]
        }
        if case .reject = policy.decide(caller) { return reject() }
        phase = .answering
        let handed = caller
        let count = rings
        rings = 0
        caller = nil
        return [.report(.answer(rings: count)), .handOverCall(handed)]
    }

    private mutating func reject() -> [Effect] {
        phase = .rejecting
        return [.report(.reject(policy.decide(caller))), .waitForCalls]
    }
}
