/// Classifies framed lines into ``ModemResponse`` values.
///
/// Verbal words are matched case-insensitively, with surrounding blanks ignored and runs
/// of blanks inside counted as one space; they are recognised in either result mode, since
/// a modem may not be in the mode the caller believes.
///
/// A line of digits only is a numeric result code when ``numericMode`` is on **and** the
/// line ended with a lone CR (V0 results have no LF); it is then looked up in ``table``,
/// and a code not in the table is ``ModemResponse/unrecognised(_:)``. Any other digits line
/// (ended by CR LF, or in verbal mode) is information text, such as `050` from `ATS7?` or
/// a product code from `ATI`.
///
/// Everything else that has a letter or digit is ``ModemResponse/info(_:)``; a line with
/// neither, or a truncated line, is ``ModemResponse/unrecognised(_:)``.
public struct ResultParser: Sendable, Hashable {
    /// Whether the modem sends numeric (V0) result codes.
    public var numericMode: Bool
    /// The meaning of numeric result codes.
    public var table: NumericResultTable

    /// A parser for verbal (default) or numeric results, with the given code table.
    public init(numericMode: Bool = false, table: NumericResultTable = .standard) {
        self.numericMode = numericMode
        self.table = table
    }

    /// What `line` means.
    public func classify(_ line: FramedLine) -> ModemResponse {
        if line.isEcho { return .echo(line.text) }
        if line.isTruncated { return .unrecognised(line.text) }
        let bytes = ASCII.trimmed(Array(line.text.utf8)[...])
        if !bytes.isEmpty, bytes.allSatisfy(ASCII.isDigit) {
            let text = ASCII.string(bytes)
            guard numericMode, line.terminator == .cr else { return .info(text) }
            guard bytes.count <= 9, let code = Int(text), let response = table[code] else {
                return .unrecognised(text)
            }
            return response
        }
        return Self.classify(verbal: bytes)
    }

    /// What a verbal (V1) line means, ignoring numeric codes: a digits line is info.
    public static func classify(verbal text: String) -> ModemResponse {
        classify(verbal: ASCII.trimmed(Array(text.utf8)[...]))
    }

    private static func classify(verbal bytes: ArraySlice<UInt8>) -> ModemResponse {
        let text = ASCII.string(bytes)
        var key: [UInt8] = []
        for byte in bytes {
            if ASCII.isBlank(byte) {
                if key.last != ASCII.space { key.append(ASCII.space) }
            } else {
                key.append(ASCII.uppercased(byte))
            }
        }
        let keyText = ASCII.string(key)

        if let final = finalWords[keyText] { return .final(final) }
        switch keyText {
        case "RING": return .ring
        case "RINGING": return .ringing
        case "FAX", "DATA": return .intermediate(.callType(keyText))
        default: break
        }
        if let rest = value(of: bytes, after: "RING", separatedBy: ASCII.isBlank), rest.allSatisfy(ASCII.isDigit) {
            return .ring  // distinctive ring, `RING 2`
        }
        if let rest = value(of: bytes, after: "CONNECT", separatedBy: { ASCII.isBlank($0) || $0 == ASCII.slash }) {
            return .final(.connect(connectInfo(rest)))
        }
        if let rest = value(of: bytes, after: "CARRIER", separatedBy: ASCII.isBlank) {
            return .intermediate(.carrier(rate: ASCII.leadingInteger(rest).value, text: ASCII.string(rest)))
        }
        if let rest = value(of: bytes, after: "+MRR:") {
            return .intermediate(.carrier(rate: ASCII.leadingInteger(rest).value, text: ASCII.string(rest)))
        }
        if let rest = value(of: bytes, after: "+MCR:") {
            return .intermediate(.modulation(ASCII.string(rest)))
        }
        if let rest = value(of: bytes, after: "PROTOCOL:") ?? value(of: bytes, after: "+ER:") {
            return .intermediate(.errorControl(ASCII.string(rest)))
        }
        if let rest = value(of: bytes, after: "COMPRESSION:") ?? value(of: bytes, after: "+DR:") {
            return .intermediate(.compression(ASCII.string(rest)))
        }
        return bytes.contains(where: ASCII.isAlphanumeric) ? .info(text) : .unrecognised(text)
    }

    /// Parses the text after `CONNECT`.
    private static func connectInfo(_ rest: ArraySlice<UInt8>) -> ConnectInfo {
        guard !rest.isEmpty else { return ConnectInfo() }
        let (rate, afterRate) = ASCII.leadingInteger(rest)
        var protocolBytes = rate == nil ? rest : afterRate
        if protocolBytes.first == ASCII.slash { protocolBytes = protocolBytes.dropFirst() }
        protocolBytes = ASCII.trimmed(protocolBytes)
        return ConnectInfo(
            rate: rate,
            protocol: protocolBytes.isEmpty ? nil : ASCII.string(protocolBytes),
            detail: ASCII.string(rest))
    }

    /// When `bytes` starts with `keyword` (case-insensitively) followed by the end or by a
    /// byte accepted by `separatedBy`, the rest after the keyword, trimmed.
    private static func value(
        of bytes: ArraySlice<UInt8>, after keyword: String, separatedBy isSeparator: (UInt8) -> Bool = { _ in true }
    ) -> ArraySlice<UInt8>? {
        let keywordBytes = Array(keyword.utf8)
        guard bytes.count >= keywordBytes.count,
              zip(bytes, keywordBytes).allSatisfy({ ASCII.uppercased($0) == $1 }) else { return nil }
        let rest = bytes.dropFirst(keywordBytes.count)
        if let first = rest.first, !isSeparator(first) { return nil }
        return ASCII.trimmed(rest)
    }

    private static let finalWords: [String: FinalResult] = [
        "OK": .ok,
        "NO CARRIER": .noCarrier,
        "ERROR": .error,
        "NO DIALTONE": .noDialTone,
        "NO DIAL TONE": .noDialTone,
        "BUSY": .busy,
        "NO ANSWER": .noAnswer,
        "DELAYED": .delayed,
        "BLACKLISTED": .blacklisted,
        "BLACKLIST FULL": .blacklistFull,
        "VOICE": .voice,
        "NO LINE": .noLine,
        "LINE IN USE": .lineInUse,
        "UN-OBTAINABLE NUMBER": .unobtainableNumber,
        "UNOBTAINABLE NUMBER": .unobtainableNumber,
        "+FCERROR": .faxError,
    ]
}
