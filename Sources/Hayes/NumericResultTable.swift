/// The meaning of numeric (V0) result codes.
///
/// Codes 0-8 and 10 are the same on nearly every modem; codes above that differ between
/// chip vendors (13 is `CONNECT 7200` on Conexant, `CONNECT 14400` on ZyXEL and unused on
/// Silicon Labs), so they are data: each table maps codes to the verbal text the modem
/// would send in V1 mode, which is classified like a verbal line. Pick the table of the
/// modem's chip set, or build one with ``init(_:)`` or ``merging(_:)``.
public struct NumericResultTable: Sendable, Hashable, CustomStringConvertible {
    /// The verbal text of each code, as given.
    public let verbal: [Int: String]
    private let responses: [Int: ModemResponse]

    /// A table from verbal texts; each is classified like a verbal line.
    public init(_ verbal: [Int: String]) {
        self.verbal = verbal
        responses = verbal.mapValues(ResultParser.classify(verbal:))
    }

    /// A short summary: the number of codes and the highest one.
    public var description: String {
        "NumericResultTable(\(verbal.count) codes, up to \(verbal.keys.max() ?? 0))"
    }

    /// The response for `code`, or nil if the table does not know it.
    public subscript(code: Int) -> ModemResponse? { responses[code] }

    /// This table with `entries` added; an entry replaces a code already present.
    public func merging(_ entries: [Int: String]) -> NumericResultTable {
        NumericResultTable(verbal.merging(entries) { _, new in new })
    }

    /// The codes almost every modem shares (V.250 and the near-universal `CONNECT 2400`).
    public static let standard = NumericResultTable([
        0: "OK",
        1: "CONNECT",
        2: "RING",
        3: "NO CARRIER",
        4: "ERROR",
        5: "CONNECT 1200",
        6: "NO DIALTONE",
        7: "BUSY",
        8: "NO ANSWER",
        10: "CONNECT 2400",
    ])

    /// Conexant (Rockwell) chip sets, e.g. HCF/HSF soft modems and many external modems.
    public static let conexant = standard.merging([
        9: "CONNECT 600",
        11: "CONNECT 4800",
        12: "CONNECT 9600",
        13: "CONNECT 7200",
        14: "CONNECT 12000",
        15: "CONNECT 14400",
        16: "CONNECT 19200",
        17: "CONNECT 38400",
        18: "CONNECT 57600",
        19: "CONNECT 115200",
        22: "CONNECT 75TX/1200RX",
        23: "CONNECT 1200TX/75RX",
        24: "DELAYED",
        32: "BLACKLISTED",
        59: "CONNECT 16800",
        61: "CONNECT 21600",
        62: "CONNECT 24000",
        63: "CONNECT 26400",
        64: "CONNECT 28800",
        83: "LINE IN USE",
        84: "CONNECT 33600",
        91: "CONNECT 31200",
    ])

    /// ZyXEL Comet/Omni 336 family (other ZyXEL models number differently).
    public static let zyxel = standard.merging([
        6: "NO DIAL TONE",
        11: "CONNECT 4800",
        12: "CONNECT 9600",
        13: "CONNECT 14400",
        14: "CONNECT 19200",
        15: "CONNECT 16800",
        18: "CONNECT 57600",
        24: "CONNECT 7200",
        25: "CONNECT 12000",
        26: "CONNECT 1200/75",
        27: "CONNECT 75/1200",
        28: "CONNECT 38400",
        29: "CONNECT 21600",
        30: "CONNECT 24000",
        31: "CONNECT 26400",
        32: "CONNECT 28800",
        33: "CONNECT 115200",
        35: "CONNECT 33600",
    ])

    /// Silicon Labs ISOmodem chip sets (Si24xx, AN93 result code table).
    public static let siliconLabs = standard.merging([
        9: "RINGING",
        11: "CONNECT 4800",
        12: "CONNECT 9600",
        14: "CONNECT 19200",
        15: "CONNECT 7200",
        16: "CONNECT 12000",
        17: "CONNECT 14400",
        18: "CONNECT 16800",
        19: "CONNECT 21600",
        20: "CONNECT 24000",
        21: "CONNECT 26400",
        22: "CONNECT 28800",
        23: "CONNECT 31200",
        24: "CONNECT 33600",
        40: "BLACKLIST FULL",
        41: "BLACKLISTED",
        42: "NO LINE",
        43: "LINE IN USE",
        52: "CONNECT 56000",
        60: "CONNECT 32000",
        61: "CONNECT 48000",
        63: "CONNECT 28000",
        64: "CONNECT 29333",
        65: "CONNECT 30666",
        66: "CONNECT 33333",
        67: "CONNECT 34666",
        68: "CONNECT 36000",
        69: "CONNECT 37333",
        70: "PROTOCOL: NONE",
        75: "CONNECT 75",
        77: "PROTOCOL: V42",
        79: "PROTOCOL: V42bis",
        80: "PROTOCOL: ALTERNATE, +CLASS 2",
        81: "PROTOCOL: ALTERNATE, +CLASS 3",
        82: "PROTOCOL: ALTERNATE, +CLASS 4",
        83: "PROTOCOL: ALTERNATE, +CLASS 5",
        84: "PROTOCOL: V.44",
        90: "CONNECT 38666",
        91: "CONNECT 40000",
        92: "CONNECT 41333",
        93: "CONNECT 42666",
        94: "CONNECT 44000",
        95: "CONNECT 45333",
        96: "CONNECT 46666",
        97: "CONNECT 49333",
        98: "CONNECT 50666",
        99: "CONNECT 52000",
        100: "CONNECT 53333",
        101: "CONNECT 54666",
        102: "UN-OBTAINABLE NUMBER",
    ])
}
