/// A phone number checked and normalized for `ATD`.
///
/// A phone number is untrusted input: it ends up inside a command line, so anything that
/// could end that line, start another command or form an escape sequence is refused.
///
/// Accepted, case-insensitively: the dial digits `0-9 * # A B C D`, the modifiers
/// `T` (tone), `P` (pulse), `W` (wait for dial tone), `,` (pause), `@` (wait for quiet
/// answer), `!` (hook flash), and one `;` as the very last character (return to command
/// mode after dialing). Spaces, `-`, `(`, `)` and `.` are removed. The normalized form is
/// upper-case.
///
/// Refused: control characters (CR, LF, NUL, ESC, DEL, C1 controls…), `+` (use the
/// international access digits and the country code instead), the sequence `AT`, any other
/// letter or symbol, non-ASCII characters (such as full-width digits), `;` anywhere but at
/// the end, an empty string, a string without a dial digit, and more than
/// ``maximumLength`` dial characters.
public struct DialString: Sendable, Hashable, CustomStringConvertible {
    /// The most dial characters accepted after separators are removed, counting a
    /// trailing `;`. Many modems refuse dial strings longer than 36 to 40 characters.
    public static let maximumLength = 36

    /// The normalized dial string, ready to follow `ATD`: upper-case, separators removed.
    public let normalized: String

    /// Whether the string ends with `;`, which makes the modem return to command mode
    /// after dialing (result `OK`) instead of waiting for a carrier.
    public var returnsToCommandMode: Bool { normalized.utf8.last == ASCII.semicolon }

    public var description: String { normalized }

    /// Validates and normalizes `text`.
    ///
    /// - Throws: ``DialStringError`` naming the first offending character and its
    ///   1-based position in `text`, counted in Unicode scalars.
    public init(_ text: String) throws(DialStringError) {
        var kept: [UInt8] = []
        var lastKeptPosition = 0
        var semicolonPosition: Int?
        var hasDigit = false

        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let position = offset + 1
            let value = scalar.value
            if value < 0x20 || (value >= 0x7F && value <= 0x9F) {
                throw .controlCharacter(code: value, position: position)
            }
            guard value < 0x80 else { throw .invalidCharacter(scalar, position: position) }
            let byte = ASCII.uppercased(UInt8(value))
            if byte == ASCII.plus { throw .plusSign(position: position) }
            if Self.ignored.contains(byte) { continue }
            guard Self.digits.contains(byte) || Self.modifiers.contains(byte) || byte == ASCII.semicolon else {
                throw .invalidCharacter(scalar, position: position)
            }
            if let semicolonPosition { throw .misplacedSemicolon(position: semicolonPosition) }
            if byte == ASCII.upperT, kept.last == ASCII.upperA {
                throw .embeddedCommand(position: lastKeptPosition)
            }
            if byte == ASCII.semicolon { semicolonPosition = position }
            if Self.digits.contains(byte) { hasDigit = true }
            kept.append(byte)
            lastKeptPosition = position
        }

        guard !kept.isEmpty else { throw .empty }
        guard hasDigit else { throw .noDigits }
        guard kept.count <= Self.maximumLength else {
            throw .tooLong(length: kept.count, limit: Self.maximumLength)
        }
        normalized = ASCII.string(kept)
    }

    private static let digits = Set("0123456789*#ABCD".utf8)
    private static let modifiers = Set("TPW,@!".utf8)
    private static let ignored = Set(" -().".utf8)
}

/// Why a phone number was refused as a dial string. Positions are 1-based and count
/// Unicode scalars of the text as given.
public enum DialStringError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Nothing is left after spaces, `-`, `(`, `)` and `.` are removed.
    case empty
    /// Only modifiers (`T P W , @ ! ;`), no digit to dial.
    case noDigits
    /// More dial characters than ``DialString/maximumLength``.
    case tooLong(length: Int, limit: Int)
    /// A control character (CR, LF, NUL, ESC, DEL…) with its Unicode code point.
    case controlCharacter(code: UInt32, position: Int)
    /// A `+`: it cannot be dialed and `+++` is the modem's escape sequence.
    case plusSign(position: Int)
    /// The sequence `AT` (position of the `A`): a dial string must not carry a command.
    case embeddedCommand(position: Int)
    /// A character that is not a dial digit, modifier or separator.
    case invalidCharacter(Unicode.Scalar, position: Int)
    /// A `;` that is not the last dial character.
    case misplacedSemicolon(position: Int)

    /// The same error with every position moved by `offset`: for a dial string that was
    /// cut out of a longer text (the modifiers after `ATD` in a dial prefix).
    public func shiftingPositions(by offset: Int) -> DialStringError {
        switch self {
        case .empty, .noDigits, .tooLong: return self
        case .controlCharacter(let code, let position): return .controlCharacter(code: code, position: position + offset)
        case .plusSign(let position): return .plusSign(position: position + offset)
        case .embeddedCommand(let position): return .embeddedCommand(position: position + offset)
        case .invalidCharacter(let scalar, let position): return .invalidCharacter(scalar, position: position + offset)
        case .misplacedSemicolon(let position): return .misplacedSemicolon(position: position + offset)
        }
    }

    public var description: String {
        switch self {
        case .empty:
            return "dial string is empty"
        case .noDigits:
            return "dial string has no digit to dial"
        case .tooLong(let length, let limit):
            return "dial string has \(length) dial characters; the limit is \(limit)"
        case .controlCharacter(let code, let position):
            return "dial string has control character \(ASCII.codePoint(code)) at position \(position)"
        case .plusSign(let position):
            return "dial string has '+' at position \(position); for an international number "
                + "dial the international access digits and the country code instead (e.g. 00 or 011, then 44)"
        case .embeddedCommand(let position):
            return "dial string has 'AT' at position \(position); a dial string must not contain a command"
        case .invalidCharacter(let scalar, let position):
            return "dial string has invalid character '\(scalar)' (\(ASCII.codePoint(scalar.value))) at position \(position); "
                + "allowed are 0-9 * # A-D, T P W , @ !, a final ';', and the separators space - ( ) ."
        case .misplacedSemicolon(let position):
            return "dial string has ';' at position \(position); ';' is only allowed as the last character"
        }
    }
}
