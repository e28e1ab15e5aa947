/// A result code as a modem reports it: the verbal text (`V1`) and the number (`V0`).
public struct ResultCode: Sendable, Hashable, CustomStringConvertible {
    /// The verbal form, e.g. `NO CARRIER` or `CONNECT 33600/ARQ`.
    public var text: String
    /// The numeric form, e.g. 3.
    public var code: Int

    /// A result code with an explicit number.
    public init(text: String, code: Int) {
        self.text = text
        self.code = code
    }

    /// A result code numbered from the standard table (see ``standardCode(for:)``);
    /// `nil` if the text is not in the table.
    public init?(standard text: String) {
        guard let code = ResultCode.standardCode(for: text) else { return nil }
        self.init(text: text, code: code)
    }

    public var description: String { "\(text) (\(code))" }

    public static let ok = ResultCode(text: "OK", code: 0)
    public static let connect = ResultCode(text: "CONNECT", code: 1)
    public static let ring = ResultCode(text: "RING", code: 2)
    public static let noCarrier = ResultCode(text: "NO CARRIER", code: 3)
    public static let error = ResultCode(text: "ERROR", code: 4)
    public static let noDialtone = ResultCode(text: "NO DIALTONE", code: 6)
    public static let busy = ResultCode(text: "BUSY", code: 7)
    public static let noAnswer = ResultCode(text: "NO ANSWER", code: 8)

    private static let verbalCodes: [String: Int] = [
        "OK": 0, "CONNECT": 1, "RING": 2, "NO CARRIER": 3, "ERROR": 4, "NO DIALTONE": 6,
        "NO DIAL TONE": 6, "BUSY": 7, "NO ANSWER": 8, "DELAYED": 24, "BLACKLISTED": 32,
    ]

    /// `CONNECT <rate>` codes: Hayes (1200, 2400) and the Conexant table above 2400.
    public static let connectRateCodes: [Int: Int] = [
        300: 1, 1200: 5, 2400: 10, 4800: 11, 9600: 12, 7200: 13, 12000: 14, 14400: 15,
        19200: 16, 38400: 17, 57600: 18, 115200: 19,
    ]

    /// The number a typical modem uses for `text`: the Hayes codes 0–10, Conexant's
    /// `DELAYED` (24) and `BLACKLISTED` (32), and for `CONNECT <rate>[…]` the code of the
    /// leading rate in ``connectRateCodes`` — or 1 (plain `CONNECT`) when the rate is not
    /// in the table. `nil` for any other text.
    public static func standardCode(for text: String) -> Int? {
        if let code = verbalCodes[text] { return code }
        guard let rate = connectRate(of: text) else { return nil }
        return connectRateCodes[rate] ?? 1
    }

    /// The leading rate of a `CONNECT <rate>…` text (commas ignored), if it is one.
    static func connectRate(of text: String) -> Int? {
        guard text.hasPrefix("CONNECT ") else { return nil }
        let digits = text.dropFirst("CONNECT ".count).prefix { $0.isASCII && ($0.isNumber || $0 == ",") }
        return Int(digits.filter { $0 != "," })
    }

    /// Whether this is a `CONNECT` result.
    public var isConnect: Bool { text == "CONNECT" || text.hasPrefix("CONNECT ") }

    /// What a modem at result-code level `X<level>` reports instead of this code
    /// (HAYES-REFERENCE §3): X0 knows codes 0–4 only (a rate-bearing CONNECT becomes plain
    /// CONNECT, BUSY/NO DIALTONE/NO ANSWER become NO CARRIER); BUSY needs X3/X4; NO
    /// DIALTONE needs X2/X4; DELAYED and BLACKLISTED need X4 (else ERROR, as Conexant).
    public func adjusted(forResultLevel level: Int) -> ResultCode {
        if isConnect { return level == 0 ? .connect : self }
        switch text {
        case "BUSY": return level >= 3 ? self : .noCarrier
        case "NO DIALTONE", "NO DIAL TONE": return level == 2 || level == 4 ? self : .noCarrier
        case "NO ANSWER": return level >= 1 ? self : .noCarrier
        case "DELAYED", "BLACKLISTED": return level == 4 ? self : .error
        default: return self
        }
    }

    /// The reason word the transcript's `on-hook` event uses for a call that ended with
    /// this result: lower case, spaces as hyphens (`NO ANSWER` → `no-answer`).
    var hangUpReason: String {
        text.lowercased().split(separator: " ").joined(separator: "-")
    }
}
