/// Why a line that looked like caller ID gave none.
public enum CallerIDProblem: Sendable, Hashable, CustomStringConvertible {
    /// The bytes of a Bellcore message (type, length, data, checksum) do not add up to 0
    /// modulo 256; `sum` is what they add up to.
    case badChecksum(sum: UInt8)
    /// The message declared `expected` bytes (type, length, data and checksum) but only
    /// `received` arrived before another line or the end of the call.
    case truncated(expected: Int, received: Int)
    /// A message type other than caller ID, e.g. 0x06/0x82 (message waiting).
    case unsupportedMessageType(UInt8)
    /// A field or message that cannot be read: the text says which and why.
    case malformed(String)

    /// A short English explanation.
    public var description: String {
        switch self {
        case .badChecksum(let sum): return "caller ID checksum error (bytes add up to \(sum), not 0)"
        case .truncated(let expected, let received): return "caller ID message truncated (\(received) of \(expected) bytes)"
        case .unsupportedMessageType(let type): return "not a caller ID message (type 0x\(String(type, radix: 16)))"
        case .malformed(let detail): return "malformed caller ID: \(detail)"
        }
    }
}

/// What one line told ``CallerIDParser``.
public enum CallerIDEvent: Sendable, Hashable {
    /// The line added to the current call's caller ID; the value is everything known so far.
    case updated(CallerID)
    /// The line was caller ID that could not be used (bad checksum, truncated, malformed).
    case invalid(CallerIDProblem)
}

/// Collects the caller ID of one incoming call from the text lines a modem sends between
/// `RING`s. Pure: no I/O, no clock.
///
/// A listening session feeds it every decoded line (``feed(line:)`` or ``feed(_:)``); lines
/// that are not caller ID (`RING`, noise, other results) are ignored, so the fields of a
/// call may come in any order, interleaved with anything. When the session decides (at the
/// second `RING`, or when it answers) it calls ``finish()``, which returns the caller ID and
/// starts over for the next call; ``reset()`` forgets the current call.
///
/// Forms understood (keywords in any case, blanks around `=` optional):
/// - formatted `DATE = MMDD`, `TIME = HHMM`, `NMBR = …`, `DDN_NMBR = …`, `NAME = …`,
///   `MESG = …`; `P` is a number or name withheld, `O` one unavailable;
/// - the same behind a `+VRID:` or `+VCID:` prefix;
/// - 3GPP `+CLIP: "<number>",<type>[,<subaddr>,<satype>[,<alpha>[,<CLI validity>]]]` (type
///   145 puts a `+` in front; validity 1 is withheld, 2-4 unavailable) and
///   `+CNAP: "<name>"[,<validity>]`;
/// - unformatted Bellcore SDMF (0x04) and MDMF (0x80) messages as hex digits, bare or after
///   `MESG =`, also continued over several lines; the checksum must hold.
///
/// Memory is bounded: lines longer than ``maximumLineLength`` are ignored, fields are cut
/// to ``maximumFieldLength``, the message text to ``maximumMessageLength``, and a hex
/// message never grows past its declared length (at most 258 bytes).
public struct CallerIDParser: Sendable {
    /// Longer lines are ignored (a full MDMF message in hex is 516 characters).
    public static let maximumLineLength = 600
    /// Number, name and dialable number are cut to this many characters.
    public static let maximumFieldLength = 64
    /// ``CallerID/message`` is cut to this many characters.
    public static let maximumMessageLength = 256

    private var fields = CallerID(form: .formatted)
    private var started = false
    private var dialableNumber: String?
    /// Hex digits of a message still incomplete at the end of its line.
    private var pendingHex: [UInt8] = []

    /// The most recent problem reported (also by ``finish()``), until ``reset()``.
    public private(set) var lastProblem: CallerIDProblem?

    /// A parser with nothing collected.
    public init() {}

    /// The caller ID collected so far for the current call, or nil if none.
    public var current: CallerID? {
        guard started else { return nil }
        var value = fields
        if value.number == nil, value.numberAbsence == nil { value.number = dialableNumber }
        return value
    }

    /// Feeds one line as framed; echoes and truncated lines are ignored.
    public mutating func feed(_ line: FramedLine) -> [CallerIDEvent] {
        guard !line.isEcho, !line.isTruncated else { return abandonPending() }
        return feed(line: line.text)
    }

    /// Feeds one line of text (without its terminator). Returns what it meant for the
    /// caller ID: usually nothing (not caller ID) or one event; two when the line also ends
    /// an unfinished hex message.
    public mutating func feed(line: String) -> [CallerIDEvent] {
        var bytes = Array(line.utf8)
        guard bytes.count <= Self.maximumLineLength,
              bytes.allSatisfy({ $0 == ASCII.tab || ($0 >= ASCII.space && $0 < ASCII.delete) }) else {
            return abandonPending()
        }
        bytes = Array(ASCII.trimmed(bytes[...]))
        var events: [CallerIDEvent] = []
        if !pendingHex.isEmpty {
            let digits = bytes.filter { !ASCII.isBlank($0) }
            if !digits.isEmpty, digits.allSatisfy(Self.isHexDigit) {
                return continueHex(digits)
            }
            events = abandonPending()
        }
        return events + interpret(bytes[...])
    }

    /// The caller ID of the current call (nil if none), and a fresh start for the next one.
    /// A hex message still incomplete is dropped and recorded in ``lastProblem``.
    public mutating func finish() -> CallerID? {
        _ = abandonPending()
        let result = current
        let problem = lastProblem
        reset()
        lastProblem = problem
        return result
    }

    /// Forgets everything collected, including ``lastProblem``.
    public mutating func reset() {
        self = CallerIDParser()
    }

    // MARK: - Line forms

    private mutating func interpret(_ line: ArraySlice<UInt8>) -> [CallerIDEvent] {
        var rest = line
        var form = CallerID.Form.formatted
        for prefix in ["+VRID:", "+VCID:"] {
            if let after = Self.strip(prefix, from: rest) {
                rest = after
                form = .vrid
                break
            }
        }
        if form == .formatted {
            if let after = Self.strip("+CLIP:", from: rest) { return clip(after).map { [$0] } ?? [] }
            if let after = Self.strip("+CNAP:", from: rest) { return cnap(after).map { [$0] } ?? [] }
        }
        if let equals = rest.firstIndex(of: UInt8(ascii: "=")) {
            let event = formatted(key: rest[..<equals], value: ASCII.trimmed(rest[(equals + 1)...]), form: form)
            return event.map { [$0] } ?? []
        }
        let digits = rest.filter { !ASCII.isBlank($0) }
        if digits.count >= 6, digits.allSatisfy(Self.isHexDigit),
           let type = Self.hexByte(digits[0], digits[1]), type == Self.sdmfType || type == Self.mdmfType {
            return continueHex(digits)
        }
        return []
    }

    private mutating func formatted(key rawKey: ArraySlice<UInt8>, value: ArraySlice<UInt8>, form: CallerID.Form) -> CallerIDEvent? {
        var key: [UInt8] = []
        for byte in rawKey where !ASCII.isBlank(byte) && byte != UInt8(ascii: "_") {
            guard ASCII.isLetter(byte) else { return nil }
            key.append(ASCII.uppercased(byte))
        }
        guard !value.isEmpty else { return nil }
        switch ASCII.string(key) {
        case "DATE":
            guard let date = Self.twoNumbers(value), (1...12).contains(date.first), (1...31).contains(date.second) else {
                return fail(.malformed("DATE is not MMDD"))
            }
            begin(form)
            fields.month = date.first
            fields.day = date.second
        case "TIME":
            guard let time = Self.twoNumbers(value), (0...23).contains(time.first), (0...59).contains(time.second) else {
                return fail(.malformed("TIME is not HHMM"))
            }
            begin(form)
            fields.hour = time.first
            fields.minute = time.second
        case "NMBR":
            begin(form)
            if let reason = Self.absence(value) { setNumberAbsent(reason) } else { setNumber(Self.text(value)) }
        case "DDNNMBR", "DDN":
            begin(form)
            dialableNumber = Self.text(value)
        case "NAME":
            begin(form)
            if let reason = Self.absence(value) {
                fields.nameAbsence = reason
                fields.name = nil
            } else {
                fields.name = Self.text(value)
                fields.nameAbsence = nil
            }
        case "MESG":
            let digits = value.filter { !ASCII.isBlank($0) }
            if digits.count >= 2, digits.allSatisfy(Self.isHexDigit),
               let type = Self.hexByte(digits[0], digits[1]), type == Self.sdmfType || type == Self.mdmfType {
                guard digits.count.isMultiple(of: 2) else { return fail(.malformed("odd number of hex digits")) }
                return message(Self.bytes(fromHex: digits))
            }
            begin(form)
            fields.message = String(ASCII.string(value).prefix(Self.maximumMessageLength))
        default:
            return nil
        }
        return current.map(CallerIDEvent.updated)
    }

    /// `+CLIP: "<number>",<type>[,<subaddr>,<satype>[,<alpha>[,<CLI validity>]]]`.
    private mutating func clip(_ rest: ArraySlice<UInt8>) -> CallerIDEvent? {
        guard let parameters = Self.parameters(rest) else { return fail(.malformed("+CLIP with an open quote")) }
        // `+CLIP: <n>,<m>` (the answer to `AT+CLIP?`) has no quoted number: not a call.
        guard let first = parameters.first, first.quoted else { return nil }
        let number = Self.text(first.text[...])
        let type = parameters.count > 1 ? Int(ASCII.string(parameters[1].text)) : nil
        let alpha = parameters.count > 4 && parameters[4].quoted ? Self.text(parameters[4].text[...]) : nil
        let validity = parameters.count > 5 ? Int(ASCII.string(parameters[5].text)) : nil
        guard number != nil || alpha != nil || (validity ?? 0) != 0 else { return nil }
        begin(.clip)
        if var number {
            if type == 145, !number.hasPrefix("+") { number = "+" + number }
            setNumber(String(number.prefix(Self.maximumFieldLength)))
        }
        switch validity {
        case 1:
            fields.numberAbsence = .private  // with "override category" the number still comes
        case 2, 3, 4:
            setNumberAbsent(.unavailable)
        default:
            break
        }
        if let alpha {
            fields.name = alpha
            fields.nameAbsence = nil
        }
        return current.map(CallerIDEvent.updated)
    }

    /// `+CNAP: "<name>"[,<CNI validity>]` (0 valid, 1 withheld, 2 unavailable).
    private mutating func cnap(_ rest: ArraySlice<UInt8>) -> CallerIDEvent? {
        guard let parameters = Self.parameters(rest) else { return fail(.malformed("+CNAP with an open quote")) }
        guard let first = parameters.first, first.quoted else { return nil }
        let name = Self.text(first.text[...])
        let validity = parameters.count > 1 ? Int(ASCII.string(parameters[1].text)) : nil
        switch validity {
        case 1:
            begin(.clip)
            fields.name = nil
            fields.nameAbsence = .private
        case 2:
            begin(.clip)
            fields.name = nil
            fields.nameAbsence = .unavailable
        default:
            guard let name else { return nil }
            begin(.clip)
            fields.name = name
            fields.nameAbsence = nil
        }
        return current.map(CallerIDEvent.updated)
    }

    // MARK: - Unformatted (Bellcore GR-30) messages

    private static let sdmfType: UInt8 = 0x04
    private static let mdmfType: UInt8 = 0x80
    /// Type, length, 255 data bytes and the checksum, as hex digits.
    private static let maximumHexDigits = 2 * 258

    /// Adds hex digits to the pending message and decodes it once it is complete.
    private mutating func continueHex(_ digits: [UInt8]) -> [CallerIDEvent] {
        pendingHex += digits
        guard pendingHex.count >= 4, let length = Self.hexByte(pendingHex[2], pendingHex[3]) else { return [] }
        let needed = 2 * (Int(length) + 3)
        guard pendingHex.count >= needed else {
            if pendingHex.count > Self.maximumHexDigits { return abandonPending() }
            return []
        }
        let bytes = Self.bytes(fromHex: pendingHex.prefix(needed))
        pendingHex = []
        return message(bytes).map { [$0] } ?? []
    }

    /// Drops an unfinished hex message, reporting it as truncated.
    private mutating func abandonPending() -> [CallerIDEvent] {
        guard !pendingHex.isEmpty else { return [] }
        let received = pendingHex.count / 2
        let expected = pendingHex.count >= 4 ? Self.hexByte(pendingHex[2], pendingHex[3]).map { Int($0) + 3 } : nil
        pendingHex = []
        return [fail(.truncated(expected: expected ?? received + 1, received: received))]
    }

    /// Decodes a whole SDMF or MDMF message: type, length, data, checksum (extra bytes after
    /// the checksum are ignored).
    private mutating func message(_ bytes: [UInt8]) -> CallerIDEvent? {
        guard let type = bytes.first else { return nil }
        guard type == Self.sdmfType || type == Self.mdmfType else { return fail(.unsupportedMessageType(type)) }
        guard bytes.count >= 2 else { return fail(.truncated(expected: 3, received: bytes.count)) }
        let length = Int(bytes[1])
        guard bytes.count >= length + 3 else { return fail(.truncated(expected: length + 3, received: bytes.count)) }
        let whole = bytes[0..<(length + 3)]
        let sum = whole.reduce(UInt8(0), &+)
        guard sum == 0 else { return fail(.badChecksum(sum: sum)) }
        let data = bytes[2..<(2 + length)]
        return type == Self.sdmfType ? sdmf(data) : mdmf(data)
    }

    /// SDMF data: 8 digits MMDDHHMM, then the number or `P`/`O`.
    private mutating func sdmf(_ data: ArraySlice<UInt8>) -> CallerIDEvent? {
        var number = data
        var stamp: (month: Int, day: Int, hour: Int, minute: Int)?
        if data.count >= 8 {
            guard let parsed = Self.timestamp(data.prefix(8)) else { return fail(.malformed("SDMF date is not MMDDHHMM")) }
            stamp = parsed
            number = data.dropFirst(8)
        } else if Self.absence(data) == nil {
            return fail(.malformed("SDMF shorter than its date"))
        }
        begin(.sdmf)
        if let stamp { setTimestamp(stamp) }
        if let reason = Self.absence(number) {
            setNumberAbsent(reason)
        } else if let text = Self.text(number) {
            setNumber(text)
        }
        return current.map(CallerIDEvent.updated)
    }

    /// MDMF data: parameters of type, length, value.
    private mutating func mdmf(_ data: ArraySlice<UInt8>) -> CallerIDEvent? {
        var parameters: [(type: UInt8, value: ArraySlice<UInt8>)] = []
        var index = data.startIndex
        while index < data.endIndex {
            guard index + 1 < data.endIndex else { return fail(.malformed("MDMF parameter without a length")) }
            let type = data[index]
            let length = Int(data[index + 1])
            let start = index + 2
            guard start + length <= data.endIndex else { return fail(.malformed("MDMF parameter 0x\(String(type, radix: 16)) overruns the message")) }
            parameters.append((type, data[start..<(start + length)]))
            index = start + length
        }
        begin(.mdmf)
        for (type, value) in parameters {
            switch type {
            case 0x01:
                if let stamp = Self.timestamp(value) { setTimestamp(stamp) }
            case 0x02:
                if let reason = Self.absence(value) { setNumberAbsent(reason) } else if let text = Self.text(value) { setNumber(text) }
            case 0x03:
                dialableNumber = Self.text(value)
            case 0x04:
                setNumberAbsent(Self.absence(value) ?? .unavailable)
            case 0x07:
                if let text = Self.text(value) {
                    fields.name = text
                    fields.nameAbsence = nil
                }
            case 0x08:
                fields.name = nil
                fields.nameAbsence = Self.absence(value) ?? .unavailable
            default:
                continue  // call qualifier, redirection, message waiting…: not caller ID
            }
        }
        return current.map(CallerIDEvent.updated)
    }

    // MARK: - Accumulating

    private mutating func begin(_ form: CallerID.Form) {
        guard !started else { return }
        started = true
        fields.form = form
    }

    private mutating func setNumber(_ number: String?) {
        guard let number else { return }
        fields.number = number
        fields.numberAbsence = nil
    }

    private mutating func setNumberAbsent(_ reason: CallerID.AbsenceReason) {
        fields.number = nil
        fields.numberAbsence = reason
    }

    private mutating func setTimestamp(_ stamp: (month: Int, day: Int, hour: Int, minute: Int)) {
        fields.month = stamp.month
        fields.day = stamp.day
        fields.hour = stamp.hour
        fields.minute = stamp.minute
    }

    private mutating func fail(_ problem: CallerIDProblem) -> CallerIDEvent {
        lastProblem = problem
        return .invalid(problem)
    }

    // MARK: - Helpers

    /// `P` → private, `O` → unavailable (also spelt out); nil for anything else.
    private static func absence(_ value: ArraySlice<UInt8>) -> CallerID.AbsenceReason? {
        let key = ASCII.string(ASCII.trimmed(value).map(ASCII.uppercased))
        switch key {
        case "P", "PRIVATE": return .private
        case "O", "OUT OF AREA", "UNAVAILABLE": return .unavailable
        default: return nil
        }
    }

    /// Printable ASCII, trimmed and cut to ``maximumFieldLength``; nil when empty.
    private static func text(_ value: ArraySlice<UInt8>) -> String? {
        let printable = ASCII.trimmed(value.filter { $0 >= ASCII.space && $0 < ASCII.delete }[...])
        guard !printable.isEmpty else { return nil }
        return ASCII.string(printable.prefix(maximumFieldLength))
    }

    /// `MMDD` or `HHMM`: two two-digit numbers.
    private static func twoNumbers(_ value: ArraySlice<UInt8>) -> (first: Int, second: Int)? {
        guard value.count == 4, value.allSatisfy(ASCII.isDigit),
              let first = Int(ASCII.string(value.prefix(2))), let second = Int(ASCII.string(value.suffix(2))) else { return nil }
        return (first, second)
    }

    /// `MMDDHHMM`, each part in range.
    private static func timestamp(_ value: ArraySlice<UInt8>) -> (month: Int, day: Int, hour: Int, minute: Int)? {
        guard value.count == 8, let date = twoNumbers(value.prefix(4)), let time = twoNumbers(value.suffix(4)),
              (1...12).contains(date.first), (1...31).contains(date.second),
              (0...23).contains(time.first), (0...59).contains(time.second)
        else { return nil }
        return (date.first, date.second, time.first, time.second)
    }

    /// The rest of `line` after `prefix` (case-insensitive), trimmed.
    private static func strip(_ prefix: String, from line: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        let prefixBytes = Array(prefix.utf8)
        guard line.count >= prefixBytes.count,
              zip(line, prefixBytes).allSatisfy({ ASCII.uppercased($0) == $1 }) else { return nil }
        return ASCII.trimmed(line.dropFirst(prefixBytes.count))
    }

    /// Comma-separated parameters; quoted ones keep their commas. Nil for an open quote.
    private static func parameters(_ rest: ArraySlice<UInt8>) -> [(text: [UInt8], quoted: Bool)]? {
        var result: [(text: [UInt8], quoted: Bool)] = []
        var current: [UInt8] = []
        var quoted = false
        var inQuote = false
        for byte in rest {
            if byte == ASCII.quote {
                inQuote.toggle()
                quoted = true
            } else if byte == ASCII.comma, !inQuote {
                result.append((quoted ? current : Array(ASCII.trimmed(current[...])), quoted))
                current = []
                quoted = false
            } else {
                current.append(byte)
            }
        }
        guard !inQuote else { return nil }
        result.append((quoted ? current : Array(ASCII.trimmed(current[...])), quoted))
        return result
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        hexValue(byte) != nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        default: return nil
        }
    }

    private static func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
        guard let high = hexValue(high), let low = hexValue(low) else { return nil }
        return high << 4 | low
    }

    /// Pairs of hex digits as bytes; a lone last digit is dropped.
    private static func bytes(fromHex digits: some Collection<UInt8>) -> [UInt8] {
        let digits = Array(digits)
        return stride(from: 0, to: digits.count - 1, by: 2).compactMap { hexByte(digits[$0], digits[$0 + 1]) }
    }
}
