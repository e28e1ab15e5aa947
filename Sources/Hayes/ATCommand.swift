/// One Hayes command line: `AT`, a body, and the S3 terminator (CR by default).
///
/// Build it from typed ``Part``s (always well-formed) or from a configured init string
/// (``init(line:)``, validated). The body is limited to ``maximumBodyLength`` characters
/// because modems answer `ERROR` to longer lines; a longer line is refused with
/// ``ATCommandError/tooLong(length:limit:)`` rather than split, so that one command line
/// always has exactly one final result. Split long init strings into several commands.
///
/// The escape sequence `+++` is not a command line; see ``escapeSequence(character:)``.
public struct ATCommand: Sendable, Hashable, CustomStringConvertible {
    /// The longest body (characters after `AT`) that modems are required to accept.
    public static let maximumBodyLength = 40

    /// Bare `AT`: does nothing, answers `OK`. Used to probe and resynchronise.
    public static let attention = ATCommand(validatedBody: "")

    /// The characters after `AT`, without the terminator.
    public let body: String

    /// The line as text, without the terminator, e.g. `ATE0Q0V1`.
    public var description: String { "AT" + body }

    /// A command line made of a single part. A single part always fits in a line.
    public init(_ part: Part) {
        body = part.text
    }

    /// A command line made of several parts, in order.
    ///
    /// A `;` is inserted after an extended-syntax part (`+GCAP`, `+FCLASS=0`…) when
    /// another part follows, as V.250 requires.
    ///
    /// - Throws: ``ATCommandError/mustEndLine(command:)`` if `Z`, `O`, `A` or `D` is not the
    ///   last part (the modem ignores or misreads what follows them), or
    ///   ``ATCommandError/tooLong(length:limit:)``.
    public init(parts: [Part]) throws(ATCommandError) {
        var body = ""
        for (index, part) in parts.enumerated() {
            let isLast = index == parts.count - 1
            if part.endsLine, !isLast { throw .mustEndLine(command: part.text) }
            body += part.text
            if part.isExtended, !isLast { body += ";" }
        }
        guard body.utf8.count <= Self.maximumBodyLength else {
            throw .tooLong(length: body.utf8.count, limit: Self.maximumBodyLength)
        }
        self.body = body
    }

    /// A command line from configuration text, given with or without its leading `AT`
    /// (any case), e.g. `ATE0 Q0 V1 X4 &C1 &D2` or `E0V1`. Surrounding spaces are removed;
    /// the body is otherwise sent as given (spaces inside it count towards the limit).
    ///
    /// - Throws: ``ATCommandError`` for a control character (CR, LF, ESC…), a non-ASCII
    ///   character, a second `AT` outside a quoted string, `+++`, an unterminated quoted
    ///   string, or a body longer than ``maximumBodyLength``. Positions are 1-based and
    ///   count Unicode scalars of `line`.
    public init(line: String) throws(ATCommandError) {
        let scanned = try Self.scan(line)
        self.body = ASCII.string(scanned.bytes[scanned.body])
    }

    /// Checks `line` as ``init(line:)`` describes and returns its bytes and the range of the
    /// body (after `AT` and spaces), so that callers can report 1-based positions in `line`.
    static func scan(_ line: String) throws(ATCommandError) -> (bytes: [UInt8], body: Range<Int>) {
        let scalars = Array(line.unicodeScalars)
        var bytes: [UInt8] = []
        for (offset, scalar) in scalars.enumerated() {
            let value = scalar.value
            if value < 0x20 || (value >= 0x7F && value <= 0x9F) {
                throw .controlCharacter(code: value, position: offset + 1)
            }
            guard value < 0x80 else { throw .nonASCII(scalar, position: offset + 1) }
            bytes.append(UInt8(value))
        }

        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == ASCII.space { start += 1 }
        while end > start, bytes[end - 1] == ASCII.space { end -= 1 }
        if end - start >= 2, ASCII.uppercased(bytes[start]) == ASCII.upperA,
           ASCII.uppercased(bytes[start + 1]) == ASCII.upperT {
            start += 2
            while start < end, bytes[start] == ASCII.space { start += 1 }
        }

        var quoteOpenedAt: Int?
        var previous: (byte: UInt8, index: Int)?
        for index in start..<end {
            let byte = bytes[index]
            if byte == ASCII.plus, index + 2 < end, bytes[index + 1] == ASCII.plus, bytes[index + 2] == ASCII.plus {
                throw .escapeSequence(position: index + 1)
            }
            if byte == ASCII.quote {
                quoteOpenedAt = quoteOpenedAt == nil ? index : nil
                previous = nil
                continue
            }
            guard quoteOpenedAt == nil, byte != ASCII.space else { continue }
            let upper = ASCII.uppercased(byte)
            if upper == ASCII.upperT, let previous, previous.byte == ASCII.upperA {
                throw .embeddedAT(position: previous.index + 1)
            }
            previous = (upper, index)
        }
        if let quoteOpenedAt { throw .unbalancedQuote(position: quoteOpenedAt + 1) }

        guard end - start <= Self.maximumBodyLength else {
            throw .tooLong(length: end - start, limit: Self.maximumBodyLength)
        }
        return (bytes, start..<end)
    }

    private init(validatedBody: String) {
        body = validatedBody
    }

    /// The bytes to write: `AT`, the body and `terminator` (register S3, CR by default).
    public func encoded(terminator: UInt8 = 13) -> [UInt8] {
        Array("AT".utf8) + Array(body.utf8) + [terminator]
    }

    /// The escape sequence that takes an online modem to online-command mode: three
    /// escape characters (register S2, `+` by default). The caller must keep the line
    /// silent for the guard time (S12) before and after it. Returns nil when `character`
    /// is above 127, which disables escaping on the modem.
    public static func escapeSequence(character: UInt8 = 43) -> [UInt8]? {
        character < 0x80 ? [character, character, character] : nil
    }
}

extension ATCommand {
    /// One command inside a command line.
    public enum Part: Sendable, Hashable {
        /// `Z`: reset to the stored profile. Must end the line.
        case reset
        /// `&F`: load factory defaults.
        case factoryDefaults
        /// `E1` (true) / `E0` (false): echo command characters.
        case echo(Bool)
        /// `V1` (true, verbal results) / `V0` (false, numeric results).
        case verbose(Bool)
        /// `Q1` (true, no results at all) / `Q0` (false, results on).
        case quiet(Bool)
        /// `X0`…`X4`: which result codes the modem reports.
        case resultCodes(ResultCodeSet)
        /// `&C0` / `&C1`: what DCD shows.
        case dcd(DCDMode)
        /// `&D0`…`&D3`: what a DTR drop does.
        case dtr(DTRMode)
        /// `S<register>=<value>`.
        case setRegister(UInt8, UInt8)
        /// `S<register>?`: the modem answers the value as information text.
        case queryRegister(UInt8)
        /// `H`: go on-hook (hang up).
        case hangUp
        /// `O`: return online from online-command mode. Must end the line.
        case online
        /// `A`: answer. Must end the line.
        case answer
        /// `I<n>`: identification text.
        case identify(UInt8)
        /// `+GCAP`: capability list.
        case capabilities
        /// `+GMI`: manufacturer.
        case manufacturer
        /// `+GMM`: model.
        case model
        /// `+GMR`: revision.
        case revision
        /// `+GSN`: serial number.
        case serialNumber
        /// `+FCLASS=0`: data mode (not fax or voice).
        case dataMode
        /// `D<dial string>`: dial. Must end the line.
        case dial(DialString)

        /// The command text, e.g. `S7=50`.
        public var text: String {
            switch self {
            case .reset: return "Z"
            case .factoryDefaults: return "&F"
            case .echo(let on): return on ? "E1" : "E0"
            case .verbose(let on): return on ? "V1" : "V0"
            case .quiet(let on): return on ? "Q1" : "Q0"
            case .resultCodes(let set): return "X\(set.rawValue)"
            case .dcd(let mode): return "&C\(mode.rawValue)"
            case .dtr(let mode): return "&D\(mode.rawValue)"
            case .setRegister(let register, let value): return "S\(register)=\(value)"
            case .queryRegister(let register): return "S\(register)?"
            case .hangUp: return "H"
            case .online: return "O"
            case .answer: return "A"
            case .identify(let number): return "I\(number)"
            case .capabilities: return "+GCAP"
            case .manufacturer: return "+GMI"
            case .model: return "+GMM"
            case .revision: return "+GMR"
            case .serialNumber: return "+GSN"
            case .dataMode: return "+FCLASS=0"
            case .dial(let number): return "D" + number.normalized
            }
        }

        /// Whether nothing may follow this command on the same line.
        var endsLine: Bool {
            switch self {
            case .reset, .online, .answer, .dial: return true
            default: return false
            }
        }

        /// Whether this is an extended-syntax (`+`) command.
        var isExtended: Bool {
            switch self {
            case .capabilities, .manufacturer, .model, .revision, .serialNumber, .dataMode: return true
            default: return false
            }
        }
    }

    /// The `X` setting: which result codes a modem reports.
    public enum ResultCodeSet: UInt8, Sendable, Hashable, CaseIterable {
        /// Codes 0-4 only; blind dial; `BUSY` and `NO DIALTONE` become `NO CARRIER`.
        case x0 = 0
        /// Adds `CONNECT <rate>`; still blind dial, no busy detection.
        case x1
        /// X1 and waits for dial tone (`NO DIALTONE`).
        case x2
        /// X1 and busy detection (`BUSY`), blind dial.
        case x3
        /// Everything: dial tone and busy detection. Use this.
        case x4
    }

    /// The `&C` setting: what the DCD line shows.
    public enum DCDMode: UInt8, Sendable, Hashable, CaseIterable {
        /// `&C0`: DCD always on.
        case alwaysOn = 0
        /// `&C1`: DCD follows the carrier (needed to see line hang-ups).
        case followsCarrier = 1
    }

    /// The `&D` setting: what dropping DTR does.
    public enum DTRMode: UInt8, Sendable, Hashable, CaseIterable {
        /// `&D0`: DTR is ignored (hang-up by DTR impossible).
        case ignore = 0
        /// `&D1`: DTR drop goes to online-command mode; the call stays up.
        case onlineCommand = 1
        /// `&D2`: DTR drop hangs up and returns to command mode.
        case hangUp = 2
        /// `&D3`: DTR drop resets the modem.
        case reset = 3
    }
}

/// Why a command line was refused. Positions are 1-based and count Unicode scalars of the
/// text as given.
public enum ATCommandError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A control character (CR, LF, NUL, ESC, DEL…) with its Unicode code point.
    case controlCharacter(code: UInt32, position: Int)
    /// A character outside ASCII.
    case nonASCII(Unicode.Scalar, position: Int)
    /// A second `AT` (position of its `A`) outside a quoted string.
    case embeddedAT(position: Int)
    /// `+++`, the escape sequence (position of the first `+`).
    case escapeSequence(position: Int)
    /// A `"` that is never closed (position of the `"`).
    case unbalancedQuote(position: Int)
    /// The body after `AT` is longer than ``ATCommand/maximumBodyLength``.
    case tooLong(length: Int, limit: Int)
    /// `command` (`Z`, `O`, `A` or a dial) was not the last command of the line.
    case mustEndLine(command: String)
    /// A character where a command should start that no command starts with.
    case unexpectedCharacter(Unicode.Scalar, position: Int)
    /// `S` without a register number (position of the `S`).
    case missingRegisterNumber(position: Int)
    /// An unquoted argument of an extended command that starts with a digit but is not a
    /// number (`+FCLASS=0D5551234`): a modem that stops reading at the letter could run
    /// the rest as commands.
    case nonNumericArgument(command: String, argument: String, position: Int)
    /// An init string holds a command that would do more than configure the modem.
    case notAllowedInInitString(command: String, position: Int, action: InitAction)

    /// What a command refused in an init string would do.
    public enum InitAction: String, Sendable, Hashable {
        /// `D`: dials.
        case dials = "dials"
        /// `A`: answers a call.
        case answers = "answers a call"
        /// `O`: goes online.
        case goesOnline = "goes online"
        /// `H1`: takes the line off-hook.
        case goesOffHook = "goes off-hook"
        /// `S0=n` with n ≠ 0: answers calls by itself.
        case answersAutomatically = "makes the modem answer calls by itself"
    }

    public var description: String {
        switch self {
        case .controlCharacter(let code, let position):
            return "command line has control character \(ASCII.codePoint(code)) at position \(position)"
        case .nonASCII(let scalar, let position):
            return "command line has non-ASCII character '\(scalar)' (\(ASCII.codePoint(scalar.value))) at position \(position)"
        case .embeddedAT(let position):
            return "command line has a second 'AT' at position \(position); send separate command lines"
        case .escapeSequence(let position):
            return "command line has the escape sequence '+++' at position \(position)"
        case .unbalancedQuote(let position):
            return "command line has an unterminated quoted string starting at position \(position)"
        case .tooLong(let length, let limit):
            return "command line body has \(length) characters after 'AT'; modems accept at most \(limit), split it"
        case .mustEndLine(let command):
            return "'\(command)' must be the last command of a line"
        case .unexpectedCharacter(let scalar, let position):
            return "command line has '\(scalar)' at position \(position), where no command starts"
        case .missingRegisterNumber(let position):
            return "command line has 'S' without a register number at position \(position)"
        case .nonNumericArgument(let command, let argument, let position):
            return "\(command) has the argument '\(argument)' at position \(position), which starts with a digit "
                + "but is not a number; quote strings, and end extended commands with ';'"
        case .notAllowedInInitString(let command, let position, let action):
            return "the \(command) command at position \(position) \(action.rawValue); "
                + "init strings may not dial, answer, go online or go off-hook"
        }
    }
}
