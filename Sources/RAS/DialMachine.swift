/// The dial state machine of one connection, as a pure function:
/// `step(state, event) -> (state, effects)`.
///
/// The connection manager owns the port and the timers. It performs each ``Effect`` in
/// order and feeds back the ``Event`` that the effect's documentation names. The machine
/// never crashes: an event that makes no sense in the current phase changes nothing and
/// yields no effects.
///
/// **Notifications** (``Effect/notify(_:_:)``, the RAS notifier, RAS-REFERENCE §1):
/// - one per state on entry, with no error: a plain dial gives OpenPort, PortOpened,
///   ConnectDevice, DeviceConnected, AllDevicesConnected, Connected;
/// - each redial re-enters ConnectDevice and reports it again;
/// - a failed dial re-reports the state it failed in **with** the error, then reports
///   Disconnected with the same error (e.g. ConnectDevice+676, Disconnected+676);
/// - a connection that runs PPP (`Framing=PPP`) passes from AllDevicesConnected through
///   Authenticate, Authenticated, AuthProject and Projected to Connected, each state on
///   pppd's own progress;
/// - after Connected the RAS notifier has stopped; a lost carrier (629) or failed device (630)
///   still yields one Disconnected notification with the error, for watchers;
/// - a hang-up is never notified (RAS notifications stop at `RasHangUp`);
/// - with reconnect on (`RedialOnLinkFailure=1`), a carrier loss or pppd's exit after
///   Connected notifies Disconnected with its error, announces the reconnect
///   (``Effect/announceReconnect(attempt:after:)``, RAS's `RASCN_ReConnection`), waits the
///   backoff pause and walks ConnectDevice … Connected again on the same handle; the status
///   keeps the drop's error until Connected. A failed reconnect attempt waits the next,
///   longer pause; only a hang-up or a device failure ends the cycle.
///
/// **Answered calls** (``State/answersCall``): the listening line hands over a ringing call;
/// the machine answers it (``Effect/answerCall``) and walks ConnectDevice, DeviceConnected,
/// AllDevicesConnected (PPP states) and Connected like a dial. `NO CARRIER` instead of
/// `CONNECT` fails it with 679; the caller hanging up later is a carrier loss (629).
///
/// **Handles:** a failed connection keeps its handle (status Disconnected + error) until it is
/// hung up; only ``Effect/deleteConnection`` ends it (status then answers 6).
public enum DialMachine {
    /// Where a connection is in its life.
    public enum Phase: String, Sendable, Hashable, Codable, CaseIterable {
        /// Created, not started.
        case idle
        /// Waiting for the port to open (OpenPort).
        case openingPort
        /// Initialising the modem (ConnectDevice).
        case initializingModem
        /// The dial command is running (ConnectDevice).
        case dialing
        /// An attempt failed with a busy line, no answer or a timeout; waiting for the redial timer.
        case waitingToRedial
        /// The modem is connected and PPP is negotiating (Authenticate … Projected).
        case negotiating
        /// Connected.
        case connected
        /// Failed or lost (Disconnected + error); the port is being released.
        case releasingPort
        /// Failed or lost (Disconnected + error), port released; waiting for the hang-up.
        case failed
        /// The user hung up; the teardown is running.
        case hangingUp
        /// Torn down: the handle is invalid (status answers 6).
        case deleted

        /// True while a dial or a connection is alive: a hardware failure matters.
        public var isLive: Bool {
            switch self {
            case .openingPort, .initializingModem, .dialing, .waitingToRedial, .negotiating, .connected: true
            case .idle, .releasingPort, .failed, .hangingUp, .deleted: false
            }
        }
    }

    /// The result of a dial command, as the connection manager maps Hayes results to it.
    public enum ModemOutcome: Sendable, Hashable {
        /// `CONNECT [<rate>[/<protocol>]]`, plus any `CARRIER`/`PROTOCOL`/`COMPRESSION` reports.
        case connect(rate: Int? = nil, protocol: String? = nil, details: RasConnectDetails? = nil)
        /// `BUSY` → 676 (redialed while attempts remain).
        case busy
        /// `NO ANSWER` → 678 (redialed while attempts remain).
        case noAnswer
        /// `NO CARRIER` while dialing → 679.
        case noCarrier
        /// `NO DIALTONE` / `NO DIAL TONE` → 680.
        case noDialtone
        /// `ERROR` → 651.
        case error
        /// `VOICE` → 677.
        case voice
        /// `DELAYED` (the modem bars calls to the number for a while) → 651 with a detail:
        /// RAS has no closer code; 676 would wrongly invite an immediate redial.
        case delayed
        /// `BLACKLISTED` (the modem refuses the number) → 651 with a detail, as for ``delayed``.
        case blacklisted
        /// A line that is no known result → 652, the line in the detail.
        case unrecognised(String)
        /// No result before the dial deadline → 678 with a detail (redialed while attempts remain;
        /// the modem is still dialing, so the machine asks for ``Effect/abortDial`` first).
        case timeout

        /// The RAS error for this outcome; `nil` for ``connect(rate:protocol:details:)``.
        public var rasError: RasError? {
            switch self {
            case .connect: nil
            case .busy: .lineBusy
            case .noAnswer: .noAnswer
            case .noCarrier: .noCarrier
            case .noDialtone: .noDialtone
            case .error: .fromDevice
            case .voice: .voiceAnswer
            case .delayed:
                RasError.fromDevice.with(detail: "the modem answered DELAYED: it bars calls to this number for a while")
            case .blacklisted:
                RasError.fromDevice.with(detail: "the modem answered BLACKLISTED: it refuses to call this number")
            case .unrecognised(let line): RasError.unrecognizedResponse.with(detail: "modem said '\(line)'")
            case .timeout: RasError.noAnswer.with(detail: "no result from the modem before the dial deadline")
            }
        }

        /// True for the outcomes worth redialing: ``busy``, ``noAnswer`` and ``timeout``.
        public var allowsRedial: Bool {
            switch self {
            case .busy, .noAnswer, .timeout: true
            default: false
            }
        }
    }

    /// What happened; the connection manager reports these.
    public enum Event: Sendable, Equatable {
        /// Begin the dial (valid once, in ``Phase/idle``).
        case start
        /// The port is open and locked (answer to ``Effect/openPort``).
        case portOpened
        /// The port could not be opened (answer to ``Effect/openPort``): 608 no such device,
        /// 633 held by another process (detail: who), 602 already open… The manager has
        /// already undone any partial open.
        case portFailed(RasError)
        /// The init sequence was answered `OK` (answer to ``Effect/initializeModem``).
        case modemReady
        /// The init sequence failed (answer to ``Effect/initializeModem``): 666 modem silent,
        /// 651 `ERROR`, 652 junk. Also accepted while dialing.
        case modemFailed(RasError)
        /// The dial's result (answer to ``Effect/dial(attempt:)``).
        case dialResult(ModemOutcome)
        /// The redial pause is over (answer to ``Effect/scheduleRedial(after:)``).
        case redialTimerFired
        /// The user hung up (`RasHangUp`). Valid in every phase; a second one is a no-op.
        case hangUpRequested
        /// The modem is on-hook and the port closed and unlocked (answer to ``Effect/hangUpModem``;
        /// also accepted for ``Effect/releasePort``).
        case teardownComplete
        /// The carrier dropped while connected (DCD low, EOF, `NO CARRIER`) → 629.
        case carrierLost
        /// No data passed for the entry's `IdleDisconnectSeconds` while connected → 828;
        /// the release hangs the modem up.
        case idleTimeout
        /// The device failed (unplug, EIO) in a live phase → 630.
        case deviceFailed
        /// The port is closed and unlocked (answer to ``Effect/releasePort``; also accepted for
        /// ``Effect/hangUpModem``).
        case portClosed
        /// The data path could not be made (answer to ``Effect/openDataPath``) → the error,
        /// usually 630 (no pty left).
        case dataPathFailed(RasError)
        /// pppd reports that authentication succeeded (after ``Effect/startPPP``).
        case pppAuthenticated
        /// pppd brought IP up: the projection (its `ip-up` hook).
        case pppProjected(RasProjection)
        /// pppd exited while negotiating or connected, with the RAS error its exit status
        /// maps to (``PPPExit``).
        case pppExited(RasError)
        /// The link has stayed up for the reconnect policy's ``ReconnectPolicy/stableAfter``:
        /// the backoff starts again from its first pause (reported by the manager just before
        /// it reports the loss of such a link).
        case linkStable
    }

    /// What the connection manager must do, in the order given.
    public enum Effect: Sendable, Equatable {
        /// Call the RAS notifier with this state and error (`nil` = no error).
        case notify(RasConnState, RasError?)
        /// Open and lock the port; report ``Event/portOpened`` or ``Event/portFailed(_:)``.
        case openPort
        /// Send the init strings; report ``Event/modemReady`` or ``Event/modemFailed(_:)``.
        case initializeModem
        /// Send the dial command (attempt 1, 2, …) and enforce the dial deadline; report
        /// ``Event/dialResult(_:)`` (``ModemOutcome/timeout`` when the deadline passes).
        case dial(attempt: Int)
        /// Answer the ringing call (`ATA`) and enforce the dial deadline; report
        /// ``Event/dialResult(_:)`` as for a dial.
        case answerCall
        /// Start the redial timer; report ``Event/redialTimerFired`` when it fires.
        case scheduleRedial(after: Duration)
        /// Stop the redial timer; report nothing.
        case cancelRedial
        /// Stop the dial command in progress (send a CR, await its result, drain the input);
        /// report nothing: a late dial result is ignored.
        case abortDial
        /// Run the full hang-up ladder (cancel any command in flight; DTR drop, `+++`/`ATH`,
        /// HUPCL close), then close and unlock the port; report ``Event/teardownComplete``.
        case hangUpModem
        /// After a failure or loss: make sure the modem is on-hook, close and unlock the port;
        /// report ``Event/portClosed``.
        case releasePort
        /// Forget the connection: its handle is invalid from now on (status answers 6).
        case deleteConnection
        /// Make the connection's data path (a pty a program opens like a serial port) and
        /// start carrying bytes between it and the modem; report ``Event/dataPathFailed(_:)``
        /// if it cannot be made. The relay reports the end of the call as
        /// ``Event/carrierLost``, ``Event/deviceFailed`` or ``Event/idleTimeout``.
        case openDataPath
        /// Run pppd on the data path; it reports ``Event/pppAuthenticated``,
        /// ``Event/pppProjected(_:)`` and ``Event/pppExited(_:)``.
        case startPPP
        /// Stop pppd: `graceful` (our hang-up) lets it end the link with the peer first;
        /// otherwise the line is gone and it is only told to exit. Reports nothing.
        case stopPPP(graceful: Bool)
        /// Close the data path (after pppd, if any, has stopped): a program on it reads
        /// end-of-file. Reports nothing.
        case closeDataPath
        /// Tell watchers the link is being re-established (`RASCN_ReConnection`): reconnect
        /// number `attempt` starts after `after`. Reports nothing; a
        /// ``scheduleRedial(after:)`` follows.
        case announceReconnect(attempt: Int, after: Duration)
    }

    /// Reconnect on drop (`RedialOnLinkFailure=1`): the pause before reconnect n is
    /// `firstPause × 2^(n−1)`, at most `maximumPause`; a link that stays up for
    /// ``stableAfter`` starts the sequence again from `firstPause`.
    public struct ReconnectPolicy: Sendable, Equatable {
        /// The first pause (`RedialSeconds`).
        public var firstPause: Duration
        /// The longest pause (`RedialMaxSeconds`, default 600 s).
        public var maximumPause: Duration
        /// How long a link must stay up for the backoff to start again: the longest pause.
        public var stableAfter: Duration { maximumPause }

        /// A policy.
        public init(firstPause: Duration, maximumPause: Duration) {
            self.firstPause = firstPause
            self.maximumPause = max(firstPause, maximumPause)
        }

        /// The pause before reconnect `attempt` (1, 2, …).
        public func pause(before attempt: Int) -> Duration {
            var pause = firstPause
            for _ in 1..<max(1, attempt) {
                pause = pause * 2
                if pause >= maximumPause { return maximumPause }
            }
            return min(pause, maximumPause)
        }
    }

    /// Everything the machine knows about one connection.
    public struct State: Sendable, Equatable {
        /// Where the connection is in its life.
        public fileprivate(set) var phase: Phase = .idle
        /// The RAS state the status reports.
        public fileprivate(set) var connectionState: RasConnState = .openPort
        /// The error the status reports (`dwError`): why the dial failed or the connection
        /// ended, 631 after a user hang-up of a healthy connection; `nil` otherwise.
        public fileprivate(set) var error: RasError?
        /// The number of the current or last dial attempt (0 before the first).
        public fileprivate(set) var attempt = 0
        /// Redials allowed after the first attempt (`RedialAttempts`).
        public let redialAttempts: Int
        /// The pause before each redial (`RedialSeconds`).
        public let redialPause: Duration
        /// The error of the last failed attempt, also while waiting to redial.
        public fileprivate(set) var lastAttemptError: RasError?
        /// The rate from `CONNECT <rate>`.
        public fileprivate(set) var connectRate: Int?
        /// The protocol text from `CONNECT <rate>/<protocol>`.
        public fileprivate(set) var connectProtocol: String?
        /// Carrier rate, error control and compression, when reported.
        public fileprivate(set) var connectDetails: RasConnectDetails?
        /// Whether the connection runs PPP after `CONNECT` (`Framing=PPP`).
        public let runsPPP: Bool
        /// Whether a data path is open (from `CONNECT` until the call ends).
        public fileprivate(set) var hasDataPath = false
        /// Whether pppd is running.
        public fileprivate(set) var pppRunning = false
        /// What PPP negotiated, once IP is up.
        public fileprivate(set) var projection: RasProjection?
        /// Reconnect on drop, when the entry asks for it.
        public let reconnect: DialMachine.ReconnectPolicy?
        /// Reconnects since the link was last stable (0 = not reconnecting).
        public fileprivate(set) var reconnects = 0
        /// Whether a reconnect cycle is running (from a drop until Connected again).
        public fileprivate(set) var isReconnecting = false
        /// Whether this connection answers an incoming call instead of dialing: it starts
        /// with the port open (the listening line's) and the modem ringing, and is never
        /// redialed or reconnected.
        public let answersCall: Bool
        /// A hang-up came while the port was opening: release the port once the open answers.
        fileprivate var hangUpWhileOpening = false

        /// A fresh connection in ``Phase/idle``. A negative `redialAttempts` counts as 0.
        public init(
            redialAttempts: Int = 0, redialPause: Duration = RasDialSettings.defaultRedialPause, runsPPP: Bool = false,
            reconnect: DialMachine.ReconnectPolicy? = nil, answersCall: Bool = false
        ) {
            self.answersCall = answersCall
            self.redialAttempts = answersCall ? 0 : max(0, redialAttempts)
            self.redialPause = redialPause
            self.runsPPP = runsPPP
            self.reconnect = answersCall ? nil : reconnect
        }

        /// A fresh connection with the redial and framing settings of `settings`; with
        /// `answersCall`, one that answers an incoming call (see ``answersCall``).
        public init(settings: RasDialSettings, answersCall: Bool = false) {
            self.init(redialAttempts: settings.redialAttempts, redialPause: settings.redialPause,
                      runsPPP: settings.ppp != nil, reconnect: settings.reconnect, answersCall: answersCall)
        }

        /// The most attempts this dial makes: 1 + ``redialAttempts``.
        public var maximumAttempts: Int { redialAttempts + 1 }
    }

    /// Applies `event` to `state`: the next state and the effects to perform, in order.
    public static func step(_ state: State, _ event: Event) -> (State, [Effect]) {
        var next = state
        let effects = next.apply(event)
        return (next, effects)
    }
}

extension DialMachine.State {
    fileprivate typealias Effect = DialMachine.Effect

    fileprivate mutating func apply(_ event: DialMachine.Event) -> [Effect] {
        switch (phase, event) {
        case (.idle, .start) where answersCall:
            // The listener holds the port and the modem rings: answer at once.
            attempt = 1
            phase = .dialing
            connectionState = .connectDevice
            return [.notify(.connectDevice, nil), .answerCall]
        case (.idle, .start):
            phase = .openingPort
            connectionState = .openPort
            return [.notify(.openPort, nil), .openPort]
        case (.openingPort, .portOpened):
            phase = .initializingModem
            connectionState = .connectDevice
            return [.notify(.portOpened, nil), .notify(.connectDevice, nil), .initializeModem]
        case (.openingPort, .portFailed(let error)):
            return fail(error, releasePort: false)
        case (.initializingModem, .modemReady):
            attempt += 1
            phase = .dialing
            return [.dial(attempt: attempt)]
        case (.initializingModem, .modemFailed(let error)), (.dialing, .modemFailed(let error)):
            if isReconnecting { return reconnectAgain(after: error) }
            return fail(error)
        case (.dialing, .dialResult(let outcome)):
            return finishDial(outcome)
        case (.waitingToRedial, .redialTimerFired):
            phase = .initializingModem
            connectionState = .connectDevice
            return [.notify(.connectDevice, nil), .initializeModem]
        case (.connected, .carrierLost) where reconnect != nil:
            return reconnectAfterDrop(.remoteDisconnection)
        case (.negotiating, .carrierLost) where isReconnecting:
            return reconnectAgain(after: .remoteDisconnection)
        case (.connected, .carrierLost), (.negotiating, .carrierLost):
            return fail(.remoteDisconnection)
        case (_, .linkStable):
            reconnects = 0
            return []
        case (.connected, .idleTimeout), (.negotiating, .idleTimeout):
            return fail(.idleTimeout)
        case (.connected, .dataPathFailed(let error)), (.negotiating, .dataPathFailed(let error)):
            hasDataPath = false
            return fail(error)
        case (.negotiating, .pppAuthenticated) where connectionState == .authenticate:
            connectionState = .authProject
            return [.notify(.authenticated, nil), .notify(.authProject, nil)]
        case (.negotiating, .pppProjected(let projection)):
            var effects: [Effect] = []
            if connectionState == .authenticate {
                // The peer asked for no authentication: pppd went straight to IP.
                effects += [.notify(.authenticated, nil), .notify(.authProject, nil)]
            }
            self.projection = projection
            phase = .connected
            connectionState = .connected
            return effects + [.notify(.projected, nil), .notify(.connected, nil)]
        case (.connected, .pppProjected(let projection)):
            // IP renegotiated (a new address): the status shows the new projection.
            self.projection = projection
            return []
        case (.connected, .pppExited(let error)) where reconnect != nil:
            pppRunning = false
            return reconnectAfterDrop(error)
        case (.negotiating, .pppExited(let error)) where isReconnecting:
            pppRunning = false
            return reconnectAgain(after: error)
        case (.negotiating, .pppExited(let error)), (.connected, .pppExited(let error)):
            pppRunning = false
            return fail(error)
        case (let live, .deviceFailed) where live.isLive:
            return fail(.hardwareFailure, preceded: live == .waitingToRedial ? [.cancelRedial] : [])
        case (_, .hangUpRequested):
            return hangUp()
        case (.releasingPort, .portClosed), (.releasingPort, .teardownComplete):
            phase = .failed
            return []
        case (.hangingUp, .portOpened) where hangUpWhileOpening:
            hangUpWhileOpening = false
            return [.releasePort]
        case (.hangingUp, .portFailed) where hangUpWhileOpening:
            return delete()
        case (.hangingUp, .portClosed) where !hangUpWhileOpening,
             (.hangingUp, .teardownComplete) where !hangUpWhileOpening:
            return delete()
        default:
            return []
        }
    }

    private mutating func finishDial(_ outcome: DialMachine.ModemOutcome) -> [Effect] {
        guard let failure = outcome.rasError else {
            if case .connect(let rate, let proto, let details) = outcome {
                connectRate = rate
                connectProtocol = proto
                connectDetails = details
            }
            lastAttemptError = nil
            hasDataPath = true
            if isReconnecting {
                isReconnecting = false
                error = nil
            }
            let connected: [Effect] = [.notify(.deviceConnected, nil), .notify(.allDevicesConnected, nil), .openDataPath]
            if runsPPP {
                phase = .negotiating
                connectionState = .authenticate
                pppRunning = true
                return connected + [.startPPP, .notify(.authenticate, nil)]
            }
            phase = .connected
            connectionState = .connected
            return connected + [.notify(.connected, nil)]
        }
        let abort: [Effect] = outcome == .timeout ? [.abortDial] : []
        if isReconnecting { return abort + reconnectAgain(after: failure) }
        lastAttemptError = failure
        if outcome.allowsRedial && attempt < maximumAttempts {
            phase = .waitingToRedial
            return abort + [.scheduleRedial(after: redialPause)]
        }
        guard maximumAttempts > 1 else { return fail(failure, preceded: abort) }
        let counted = "attempt \(attempt) of \(maximumAttempts)"
        let detail = failure.detail.map { "\($0); \(counted)" } ?? counted
        return fail(failure.with(detail: detail), preceded: abort)
    }

    /// A connected link dropped with reconnect on: Disconnected with the error, the data
    /// path closed, then the first (or next) reconnect after its pause. The port stays
    /// open; the next init's wake recovers a modem that is still online.
    private mutating func reconnectAfterDrop(_ error: RasError) -> [Effect] {
        var effects: [Effect] = [.notify(.disconnected, error)]
        effects += closeDataPath(graceful: false)
        self.error = error
        isReconnecting = true
        return effects + scheduleReconnect()
    }

    /// A reconnect attempt failed (dial, init or PPP): report it in the state it failed in,
    /// then wait the next, longer pause. The drop's error stays the status error.
    private mutating func reconnectAgain(after failure: RasError) -> [Effect] {
        var effects: [Effect] = []
        if connectionState != .disconnected { effects.append(.notify(connectionState, failure)) }
        effects += closeDataPath(graceful: false)
        lastAttemptError = failure
        return effects + scheduleReconnect()
    }

    private mutating func scheduleReconnect() -> [Effect] {
        reconnects += 1
        let pause = reconnect?.pause(before: reconnects) ?? redialPause
        connectionState = .disconnected
        phase = .waitingToRedial
        attempt = 0
        return [.announceReconnect(attempt: reconnects, after: pause), .scheduleRedial(after: pause)]
    }

    /// Enters Disconnected with `error`: re-reports the current state with the error (unless
    /// connected, where the notifier has stopped), then Disconnected with the error.
    private mutating func fail(_ error: RasError, releasePort: Bool = true, preceded prefix: [Effect] = []) -> [Effect] {
        var effects = prefix
        if connectionState != .connected { effects.append(.notify(connectionState, error)) }
        effects.append(.notify(.disconnected, error))
        effects += closeDataPath(graceful: false)
        self.error = error
        connectionState = .disconnected
        if releasePort {
            phase = .releasingPort
            effects.append(.releasePort)
        } else {
            phase = .failed
        }
        return effects
    }

    /// The user hung up: stop what runs and tear down; a failed connection keeps its error.
    private mutating func hangUp() -> [Effect] {
        let effects: [Effect]
        switch phase {
        case .idle, .failed:
            return delete()
        case .hangingUp, .deleted:
            return []
        case .releasingPort:
            phase = .hangingUp
            return []
        case .openingPort:
            hangUpWhileOpening = true
            effects = []
        case .initializingModem, .negotiating, .connected:
            effects = closeDataPath(graceful: true) + [.hangUpModem]
        case .dialing:
            effects = [.abortDial, .hangUpModem]
        case .waitingToRedial:
            effects = [.cancelRedial, .hangUpModem]
        }
        if error == nil { error = .userDisconnection }
        connectionState = .disconnected
        phase = .hangingUp
        return effects
    }

    /// Stops pppd and closes the data path, if there are any.
    private mutating func closeDataPath(graceful: Bool) -> [Effect] {
        var effects: [Effect] = []
        if pppRunning {
            pppRunning = false
            effects.append(.stopPPP(graceful: graceful))
        }
        if hasDataPath {
            hasDataPath = false
            effects.append(.closeDataPath)
        }
        return effects
    }

    private mutating func delete() -> [Effect] {
        phase = .deleted
        connectionState = .disconnected
        hangUpWhileOpening = false
        return [.deleteConnection]
    }
}
