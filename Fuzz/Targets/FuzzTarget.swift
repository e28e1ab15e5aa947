/// The fuzz targets of swift-ras: pure functions from bytes to the properties they broke.
///
/// Each target feeds one input to one parser, in ways that must agree (whole and in pieces,
/// strictly and leniently, decoded and re-encoded), and returns every property violated; an
/// empty list means the input passed. The libFuzzer entry (`swift-ras-fuzz` built with
/// `-DFUZZING`) aborts on a non-empty list so that libFuzzer saves the input; the test suite
/// replays `Fixtures/fuzz/<target>/` through the same functions and reports violations as
/// failures. A crash inside a parser is a crash in both.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `LineFramer` + `ResultParser` (`ResponseDecoder`): bytes from a modem.
    case hayes
    /// `CallerIDParser`: the lines a modem sends between rings.
    case callerID = "callerid"
    /// `DialString`: a phone number from a user or a phonebook.
    case dialString = "dialstring"
    /// The `.pbk` reader, strict and lenient.
    case phonebook
    /// The `rasmand` wire protocol: `LineSplitter` and the server's reading of a request line.
    case wire
    /// `Telnet.Decoder` and RFC 2217 `ComPort.Message`.
    case telnet

    /// The property violations of `input` (empty: none).
    public func run(_ input: [UInt8]) -> [String] {
        switch self {
        case .hayes: HayesFuzz.run(input)
        case .callerID: CallerIDFuzz.run(input)
        case .dialString: DialStringFuzz.run(input)
        case .phonebook: PhonebookFuzz.run(input)
        case .wire: WireFuzz.run(input)
        case .telnet: TelnetFuzz.run(input)
        }
    }
}

/// Splits bytes into pieces of pseudo-random sizes (1…`maximum`), the same for the same
/// input: to check that a streaming parser gives the same result however its input arrives.
func pieces(of bytes: [UInt8], seed: UInt8, maximum: Int = 7) -> [[UInt8]] {
    var state = UInt64(seed) &+ 0x9E37_79B9_7F4A_7C15
    var result: [[UInt8]] = []
    var index = 0
    while index < bytes.count {
        // SplitMix64.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let size = 1 + Int(z % UInt64(max(1, maximum)))
        let end = min(bytes.count, index + size)
        result.append(Array(bytes[index..<end]))
        index = end
    }
    return result
}

/// A short printable rendering of bytes for violation messages.
func show(_ bytes: some Sequence<UInt8>) -> String {
    var text = ""
    for byte in bytes.prefix(80) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") {
            text.unicodeScalars.append(Unicode.Scalar(byte))
        } else {
            text += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return text
}
