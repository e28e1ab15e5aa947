/// What one line from the modem means.
public enum ModemResponse: Sendable, Hashable {
    /// A final result: the command line (or dial) is over.
    case final(FinalResult)
    /// A connection detail reported before `CONNECT` (never final).
    case intermediate(ConnectionDetail)
    /// `RING`: an incoming call rings (unsolicited, may come at any time).
    case ring
    /// `RINGING`: the called line rings (ringback while dialing; not final).
    case ringing
    /// Information text: `ATI` output, `+GCAP: …`, an S-register value such as `050`.
    case info(String)
    /// The echo of the command line just sent.
    case echo(String)
    /// A line that cannot be meaningful: an unknown numeric result code, a truncated
    /// line, or a line without any letter or digit (line noise).
    case unrecognised(String)
}

/// A final result code.
public enum FinalResult: Sendable, Hashable, CustomStringConvertible {
    /// `OK` (0): the command line was executed.
    case ok
    /// `CONNECT` (1, 5, 10, vendor codes): the modem is online in data mode.
    case connect(ConnectInfo)
    /// `NO CARRIER` (3): no carrier within S7, or the carrier was lost.
    case noCarrier
    /// `ERROR` (4): bad command or parameter.
    case error
    /// `NO DIALTONE` / `NO DIAL TONE` (6).
    case noDialTone
    /// `BUSY` (7).
    case busy
    /// `NO ANSWER` (8): ringback never stopped, or no quiet answer after `@`.
    case noAnswer
    /// `DELAYED`: redialing this number is barred for a while.
    case delayed
    /// `BLACKLISTED`: the number is barred after too many failed calls.
    case blacklisted
    /// `BLACKLIST FULL`: the modem cannot bar more numbers, so it refuses to dial.
    case blacklistFull
    /// `VOICE`: a voice answered.
    case voice
    /// `NO LINE`: no telephone line is connected.
    case noLine
    /// `LINE IN USE`: an extension is off-hook.
    case lineInUse
    /// `UN-OBTAINABLE NUMBER`: e.g. tone dialing on a pulse-only line.
    case unobtainableNumber
    /// `+FCERROR`: fax error (a modem left in fax mode).
    case faxError

    /// Whether the result means success: `OK` or `CONNECT`.
    public var isSuccess: Bool {
        switch self {
        case .ok, .connect: return true
        default: return false
        }
    }

    /// The verbal form, e.g. `NO CARRIER` or `CONNECT 33600/ARQ`.
    public var description: String {
        switch self {
        case .ok: return "OK"
        case .connect(let info): return info.detail.map { "CONNECT \($0)" } ?? "CONNECT"
        case .noCarrier: return "NO CARRIER"
        case .error: return "ERROR"
        case .noDialTone: return "NO DIALTONE"
        case .busy: return "BUSY"
        case .noAnswer: return "NO ANSWER"
        case .delayed: return "DELAYED"
        case .blacklisted: return "BLACKLISTED"
        case .blacklistFull: return "BLACKLIST FULL"
        case .voice: return "VOICE"
        case .noLine: return "NO LINE"
        case .lineInUse: return "LINE IN USE"
        case .unobtainableNumber: return "UN-OBTAINABLE NUMBER"
        case .faxError: return "+FCERROR"
        }
    }
}

/// What a `CONNECT` line said: `CONNECT <rate>[/<protocol>…]`.
public struct ConnectInfo: Sendable, Hashable {
    /// The leading rate in bit/s (DTE or DCE speed, depending on the modem's settings),
    /// with thousands commas removed; nil for a bare `CONNECT` or an unreadable number.
    public var rate: Int?
    /// The text after the rate (and after a `/` that follows it), e.g. `ARQ/V42BIS`;
    /// nil when there is none. Opaque: vendors format it freely.
    public var `protocol`: String?
    /// Everything after `CONNECT `, as received; nil for a bare `CONNECT`.
    public var detail: String?

    /// A `CONNECT` description; all parts default to absent (bare `CONNECT`).
    public init(rate: Int? = nil, protocol: String? = nil, detail: String? = nil) {
        self.rate = rate
        self.protocol = `protocol`
        self.detail = detail
    }
}

/// A connection detail a modem may report before `CONNECT` (W1, `+MR`, `+ER`, `+DR`).
public enum ConnectionDetail: Sendable, Hashable {
    /// `CARRIER <rate>` or `+MRR: <rate>`: the line (DCE) rate; `text` is everything after
    /// the keyword.
    case carrier(rate: Int?, text: String)
    /// `+MCR: <modulation>`, e.g. `V34`.
    case modulation(String)
    /// `PROTOCOL: <p>` or `+ER: <p>`: error control, e.g. `LAPM`, `ALT`, `NONE`.
    case errorControl(String)
    /// `COMPRESSION: <c>` or `+DR: <c>`: data compression, e.g. `V42BIS`, `V44`, `NONE`.
    case compression(String)
    /// `FAX` or `DATA`: the kind of call detected (adaptive answering); a `CONNECT` or
    /// another final result follows.
    case callType(String)
}
