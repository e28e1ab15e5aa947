import Hayes
import SystemIO

/// Whether a connection was dialed here or answered here.
public enum RasConnectionDirection: String, Sendable, Hashable, Codable {
    /// Dialed (`RasDial`).
    case outgoing
    /// An incoming call answered by a listening line.
    case incoming
}

/// Everything a listening line (an `Answer=1` entry) needs, with the defaults applied.
public struct RasListenSettings: Sendable, Equatable {
    /// The default ring to answer on: the first.
    public static let defaultAnswerAfterRings = 1
    /// How long an ended incoming connection stays listed by default: 60 s.
    public static let defaultRetention = Duration.seconds(60)
    /// How often an idle listening modem is initialised again by default: 300 s.
    public static let defaultRecheck = Duration.seconds(300)
    /// The pause before a silent modem or a missing port is tried again by default: 10 s.
    public static let defaultRetry = Duration.seconds(10)

    /// The line: port, device, speed, flow control, init strings and timeouts, PPP (run
    /// passive for answered calls), the idle limit. `DialTimeoutSeconds` bounds the wait from
    /// `ATA` to `CONNECT`. The phone number is empty.
    public var line: RasDialSettings
    /// Answer on this ring (`AnswerAfterRings`, at least 1).
    public var answerAfterRings: Int
    /// Which callers are answered (`AllowCallers`, `RejectCallers`).
    public var policy: CallerPolicy
    /// The command that turns caller ID on (`CallerIDInit`); `nil`: chosen from the modem's
    /// identity (`CallerIDEnable`, Hayes); an empty string: caller ID is not turned on.
    public var callerIDInit: String?
    /// How long an ended incoming call stays listed (`IncomingRetentionSeconds`).
    public var retention: Duration
    /// How often the idle modem is initialised again (`ListenRecheckSeconds`).
    public var recheck: Duration
    /// The pause before a silent modem or missing port is tried again (`ListenRetrySeconds`).
    public var retry: Duration

    /// The settings of a listening entry.
    /// - Throws: 87 ``RasError/invalidParameter`` when the entry has no `Answer=1`, names no
    ///   `Port` or `Device`, or its caller patterns cannot be read.
    public init(entry: PhonebookEntry) throws(RasError) {
        guard entry.answersCalls else {
            throw RasError.invalidParameter.with(detail: "entry '\(entry.name)' is not a listening line: it needs Answer=1")
        }
        guard entry.port != nil || entry.device != nil else {
            throw RasError.invalidParameter.with(detail: "listening entry '\(entry.name)' needs Port= or Device=")
        }
        line = RasDialSettings(listening: entry)
        answerAfterRings = max(1, entry.answerAfterRings ?? Self.defaultAnswerAfterRings)
        do throws(CallerPolicyError) {
            policy = try CallerPolicy(allow: entry.allowCallers, reject: entry.rejectCallers)
        } catch {
            throw RasError.invalidParameter.with(detail: "entry '\(entry.name)': \(error)")
        }
        if let text = entry.callerIDInit {
            callerIDInit = text.lowercased() == "none" ? "" : text
        }
        retention = entry.incomingRetentionSeconds.map { .seconds($0) } ?? Self.defaultRetention
        recheck = entry.listenRecheckSeconds.flatMap { $0 > 0 ? .seconds($0) : nil } ?? Self.defaultRecheck
        retry = entry.listenRetrySeconds.flatMap { $0 > 0 ? .seconds($0) : nil } ?? Self.defaultRetry
    }
}

extension RasDialSettings {
    /// The line settings of a listening entry: those of a dial, with no number, and PPP (if
    /// any) passive — the caller's pppd speaks first.
    init(listening entry: PhonebookEntry) {
        self.init(phoneNumber: "", port: entry.port, device: entry.device)
        apply(entry)
        reconnect = nil
        redialAttempts = 0
        ppp?.passive = true
    }
}

/// Which line to listen on: a phonebook entry with `Answer=1`.
public struct RasListenParameters: Sendable, Hashable, Codable {
    /// The entry's name.
    public var entryName: String
    /// Its phonebook; `nil`: the default phonebooks.
    public var phonebookPath: String?

    /// Parameters for entry `entryName`.
    public init(entryName: String, phonebookPath: String? = nil) {
        self.entryName = entryName
        self.phonebookPath = phonebookPath
    }
}

/// A listening line as `rasdial --listeners` shows it.
///
/// JSON shape: `{"entryName":"Gateway","phonebookPath":"…","deviceName":"/dev/ttyS0",
/// "state":"ringing","rings":1,"callsTaken":3,"lastCaller":{…},"handle":"0x00000004",
/// "error":…}` (`handle`: the call in progress; `lastCaller`, `error` when known).
public struct RasListener: Sendable, Equatable, Codable {
    /// The entry.
    public var entryName: String
    /// The phonebook it came from.
    public var phonebookPath: String?
    /// The device (its name, or the port path).
    public var deviceName: String
    /// Where the line is: `opening`, `initializing`, `idle` (waiting for a call), `ringing`,
    /// `rejecting`, `answering`, `in-call`, `retrying` (the modem stopped answering or the
    /// port went away), `stopping`, `stopped`.
    public var state: String
    /// Rings of the current call.
    public var rings: Int
    /// Calls answered and connected since the line started listening.
    public var callsTaken: Int
    /// The last caller seen (answered or not).
    public var lastCaller: CallerID?
    /// The incoming connection of the call in progress.
    public var handle: RasConnectionHandle?
    /// The last problem (a modem that stopped answering, a port that went away).
    public var error: RasError?

    /// Makes a record.
    public init(
        entryName: String, phonebookPath: String?, deviceName: String, state: String, rings: Int = 0, callsTaken: Int = 0,
        lastCaller: CallerID? = nil, handle: RasConnectionHandle? = nil, error: RasError? = nil
    ) {
        self.entryName = entryName
        self.phonebookPath = phonebookPath
        self.deviceName = deviceName
        self.state = state
        self.rings = rings
        self.callsTaken = callsTaken
        self.lastCaller = lastCaller
        self.handle = handle
        self.error = error
    }

    /// `ringing 2`, `in-call 0x00000003`, `idle` …, as the text listing shows it.
    public var stateText: String {
        switch state {
        case "ringing", "rejecting": "\(state) \(rings)"
        case "in-call", "answering": handle.map { "\(state) \($0)" } ?? state
        case "retrying": "retrying" + (error.map { " (error \($0.code))" } ?? "")
        default: state
        }
    }
}

/// What a listening line reports to watchers (`rasdial --watch`), besides the connection
/// events of the calls it answers.
///
/// JSON shape: `{"event":"caller-id","entryName":"Gateway","deviceName":"…","rings":1,
/// "callerID":{…},"handle":…,"reason":…,"error":…}` (fields present when they apply).
public struct RasListenerEvent: Sendable, Equatable, Codable {
    /// What happened.
    public enum Kind: String, Sendable, Codable {
        /// The line started listening (the modem is initialised).
        case listening
        /// A ring (``RasListenerEvent/rings`` is its number).
        case ring
        /// Caller ID arrived.
        case callerID = "caller-id"
        /// Answering: ``RasListenerEvent/handle`` is the new incoming connection.
        case answer
        /// Not answering: the caller policy said no (``RasListenerEvent/reason`` says why).
        case reject
        /// The modem stopped answering or its port went away; the line retries.
        case modemProblem = "modem-problem"
        /// The line stopped listening.
        case stopped
    }

    /// What happened.
    public var kind: Kind
    /// The line's entry.
    public var entryName: String
    /// The line's device.
    public var deviceName: String
    /// The ring number (`ring`, `answer`, `reject`).
    public var rings: Int?
    /// The caller, as far as known.
    public var callerID: CallerID?
    /// The incoming connection (`answer`).
    public var handle: RasConnectionHandle?
    /// Why (`reject`: the pattern; `modem-problem`: the error).
    public var reason: String?
    /// The error (`modem-problem`).
    public var error: RasError?

    /// Makes an event.
    public init(
        kind: Kind, entryName: String, deviceName: String, rings: Int? = nil, callerID: CallerID? = nil,
        handle: RasConnectionHandle? = nil, reason: String? = nil, error: RasError? = nil
    ) {
        self.kind = kind
        self.entryName = entryName
        self.deviceName = deviceName
        self.rings = rings
        self.callerID = callerID
        self.handle = handle
        self.reason = reason
        self.error = error
    }
}

/// One event of `watch`: a connection's, or a listening line's.
public enum RasWatchEvent: Sendable, Equatable {
    /// A connection event.
    case connection(RasConnectionEvent)
    /// A listening line's event.
    case listener(RasListenerEvent)
}

extension CallerID {
    /// The number, or `private` / `unavailable` / `unknown`, for logs and listings.
    public var numberText: String {
        if let number { return number }
        return numberAbsence?.rawValue ?? "unknown"
    }
}

/// Listening lines, served by ``ConnectionManager`` in this process and by `RASClient` over
/// `rasmand`'s socket — beyond RAS's client API, which cannot answer calls.
public protocol RasListening: Sendable {
    /// Starts listening on an `Answer=1` entry's line (see ``ConnectionManager/listen(_:)``).
    func listen(_ parameters: RasListenParameters) async throws(RasError) -> RasListener
    /// Stops a listening line; 6 when none listens under that name.
    func stopListening(entryName: String) async throws(RasError) -> RasListener
    /// The listening lines.
    func enumListeners() async throws(RasError) -> [RasListener]
    /// Every connection event and every listening line's event, from now on, in order.
    func watch() async throws(RasError) -> AsyncStream<RasWatchEvent>
}
