/// What happens on the line after a number is dialed.
public struct CallOutcome: Sendable, Equatable {
    /// From the end of dialing to the first reported line (or the first `RING` of a
    /// `ring` outcome).
    public var delay: Duration
    /// Intermediate lines reported before the final result, e.g. `CARRIER 33600`,
    /// `PROTOCOL: LAPM`, `COMPRESSION: V42BIS`.
    public var progress: [ProgressLine]
    /// The final outcome.
    public var kind: Kind

    /// The final outcome of a call.
    public enum Kind: Sendable, Equatable {
        /// The far end answers: `CONNECT …`, then data mode.
        case connect(ConnectSpec)
        /// The call fails with this result (`BUSY`, `NO ANSWER`, `NO DIALTONE`,
        /// `NO CARRIER`, `ERROR`, or any vendor text with its number).
        case result(ResultCode)
        /// The modem never reports anything for this call (until a byte from the computer
        /// or a DTR drop aborts it).
        case silence
        /// Another fake modem on the same exchange rings.
        case ring(RingSpec)
    }

    /// An outcome; `delay` defaults to 200 ms.
    public init(delay: Duration = .milliseconds(200), progress: [ProgressLine] = [], kind: Kind) {
        self.delay = delay
        self.progress = progress
        self.kind = kind
    }

    /// Connect after `delay` with `text` (e.g. `CONNECT 33600/ARQ`), data looped back.
    public static func connect(_ text: String, delay: Duration = .milliseconds(200), data: DataMode = .loopback) -> CallOutcome {
        CallOutcome(delay: delay, kind: .connect(ConnectSpec(result: ResultCode(standard: text) ?? ResultCode(text: text, code: 1), data: data)))
    }

    /// Fail with `result` after `delay`.
    public static func result(_ result: ResultCode, delay: Duration = .milliseconds(200)) -> CallOutcome {
        CallOutcome(delay: delay, kind: .result(result))
    }

    /// Ring the fake modem named `modem`.
    public static func ring(_ modem: String, delay: Duration = .milliseconds(100)) -> CallOutcome {
        CallOutcome(delay: delay, kind: .ring(RingSpec(modem: modem)))
    }
}

/// An intermediate result line reported while a call is set up.
public struct ProgressLine: Sendable, Equatable {
    /// The text, e.g. `PROTOCOL: LAPM`.
    public var text: String
    /// Its number in `V0`; without one the line is not reported in `V0`.
    public var code: Int?
    /// Pause after the previous line (or after the outcome's delay) before this line.
    public var delay: Duration

    /// A progress line.
    public init(_ text: String, code: Int? = nil, delay: Duration = .zero) {
        self.text = text
        self.code = code
        self.delay = delay
    }
}

/// Where data goes once a call is up.
public enum DataMode: String, Sendable, Equatable, CaseIterable {
    /// Every byte from the computer comes straight back (an echoing far end).
    case loopback
    /// The far end is silent and swallows everything.
    case silent
    /// Bytes flow to and from another fake modem.
    case peer
    /// Like `peer`, and this modem also returns every byte it receives from the line to
    /// the remote end (an echoing answerer).
    case peerEcho = "peer-echo"
}

/// A connected call as one side sees it.
public struct ConnectSpec: Sendable, Equatable {
    /// The `CONNECT …` result reported.
    public var result: ResultCode
    /// Where data goes.
    public var data: DataMode
    /// Text the far end sends right after `CONNECT` (e.g. a login prompt).
    public var banner: [UInt8]
    /// The carrier disappears this long after `CONNECT` (the modem then reports
    /// `NO CARRIER` after S10).
    public var carrierDropAfter: Duration?
    /// The modem is unplugged (its pty master closed) this long after `CONNECT`.
    public var unplugAfter: Duration?

    /// A connect specification.
    public init(
        result: ResultCode, data: DataMode = .loopback, banner: [UInt8] = [],
        carrierDropAfter: Duration? = nil, unplugAfter: Duration? = nil
    ) {
        self.result = result
        self.data = data
        self.banner = banner
        self.carrierDropAfter = carrierDropAfter
        self.unplugAfter = unplugAfter
    }
}

/// A call that rings another fake modem.
public struct RingSpec: Sendable, Equatable {
    /// The callee's name.
    public var modem: String
    /// What both sides report when the call is up.
    public var connect: ResultCode
    /// From the callee's answer (`ATA` or auto-answer) to `CONNECT` on both sides.
    public var handshake: Duration
    /// The callee echoes the caller's data back (besides handing it to its computer).
    public var calleeEchoes: Bool
    /// The line drops this long after `CONNECT`; both sides report `NO CARRIER`.
    public var carrierDropAfter: Duration?

    /// A ring specification; `CONNECT 33600` after a 200 ms handshake by default.
    public init(
        modem: String, connect: ResultCode = ResultCode(text: "CONNECT 33600", code: 1),
        handshake: Duration = .milliseconds(200), calleeEchoes: Bool = false, carrierDropAfter: Duration? = nil
    ) {
        self.modem = modem
        self.connect = connect
        self.handshake = handshake
        self.calleeEchoes = calleeEchoes
        self.carrierDropAfter = carrierDropAfter
    }
}

/// What the exchange tells a dialing modem.
public enum CallRoute: Sendable, Equatable {
    /// The call follows a script.
    case scripted(CallOutcome)
    /// Another modem is ringing; wait for `remoteAnswered`/`remoteConnected` or S7.
    case ringing(ConnectSpec)
}

/// An incoming call offered to a modem by the exchange.
public struct IncomingCall: Sendable, Equatable {
    /// What this modem reports once the call is up.
    public var connect: ConnectSpec
    /// From answering to `CONNECT`.
    public var handshake: Duration
    /// Delay before the first `RING`.
    public var firstRingAfter: Duration
    /// Who calls, reported between the first and second `RING` when the modem has caller
    /// ID on; `nil` when the line carries none.
    public var caller: CallerID?
    /// The caller hangs up this long after `CONNECT` (`NO CARRIER` after S10).
    public var hangUpAfter: Duration?
    /// The caller gives up after this many unanswered rings; `nil`: never (a fake modem
    /// caller gives up by its own S7).
    public var maximumRings: Int?

    /// An incoming call.
    public init(
        connect: ConnectSpec, handshake: Duration = .milliseconds(200), firstRingAfter: Duration = .zero,
        caller: CallerID? = nil, hangUpAfter: Duration? = nil, maximumRings: Int? = nil
    ) {
        self.connect = connect
        self.handshake = handshake
        self.firstRingAfter = firstRingAfter
        self.caller = caller
        self.hangUpAfter = hangUpAfter
        self.maximumRings = maximumRings
    }
}

/// A call from outside the bank, scheduled by the scenario (`calls:`) or the command line
/// (`--ring-after`).
public struct ExternalCall: Sendable, Equatable {
    /// When the first `RING` comes, counted from power-on.
    public var after: Duration
    /// Who calls.
    public var caller: CallerID
    /// What the modem reports when it answers, and where data goes (loopback by default).
    public var connect: ConnectSpec
    /// From the answer to `CONNECT`.
    public var handshake: Duration
    /// The caller hangs up this long after `CONNECT`; `nil`: never.
    public var hangUpAfter: Duration?
    /// The caller gives up after this many unanswered rings.
    public var rings: Int

    /// An external call; `CONNECT 33600` after a 200 ms handshake, up to 10 rings.
    public init(
        after: Duration, caller: CallerID,
        connect: ConnectSpec = ConnectSpec(result: ResultCode(text: "CONNECT 33600", code: 1)),
        handshake: Duration = .milliseconds(200), hangUpAfter: Duration? = nil, rings: Int = 10
    ) {
        self.after = after
        self.caller = caller
        self.connect = connect
        self.handshake = handshake
        self.hangUpAfter = hangUpAfter
        self.rings = rings
    }

    /// The call as offered to the modem.
    var incoming: IncomingCall {
        IncomingCall(connect: connect, handshake: handshake, caller: caller, hangUpAfter: hangUpAfter, maximumRings: rings)
    }
}
