import Hayes

/// A phone number through `DialString`.
///
/// Property (the validator's contract: "nothing it accepts can carry a command"): when the
/// input (as UTF-8 text) is accepted, the normalized form is 1…36 characters of
/// `0-9 * # A B C D T P W , @ !` with at most one `;`, last; it has a dial digit and never
/// the sequence `AT`; it is exactly the input upper-cased with the separators
/// (space `-` `(` `)` `.`) removed; it is accepted again unchanged; and `ATD` + it parses
/// (`ATCommandLine`) as exactly one command, a dial whose dial string is the normalized
/// form, while `ATCommand.dial` encodes it as `ATD…` + one CR and nothing else. A refused
/// input must name a position inside it.
enum DialStringFuzz {
    static let allowed = Set("0123456789*#ABCDTPW,@!".utf8)
    static let separators = Set(" -().".utf8)

    static func run(_ input: [UInt8]) -> [String] {
        let text = String(decoding: input, as: UTF8.self)
        let dial: DialString
        do {
            dial = try DialString(text)
        } catch {
            return positionViolations(error, scalars: text.unicodeScalars.count)
        }
        var violations: [String] = []
        let normalized = Array(dial.normalized.utf8)
        let shown = show(normalized)
        if normalized.isEmpty || normalized.count > DialString.maximumLength {
            violations.append("accepted '\(shown)' has \(normalized.count) characters")
        }
        for (index, byte) in normalized.enumerated() {
            let isLastSemicolon = byte == UInt8(ascii: ";") && index == normalized.count - 1
            if !allowed.contains(byte) && !isLastSemicolon {
                violations.append("accepted '\(shown)' has '\(show([byte]))' at \(index + 1)")
            }
        }
        if !normalized.contains(where: { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || "*#ABCD".utf8.contains($0) }) {
            violations.append("accepted '\(shown)' has no dial digit")
        }
        if zip(normalized, normalized.dropFirst()).contains(where: { $0 == UInt8(ascii: "A") && $1 == UInt8(ascii: "T") }) {
            violations.append("accepted '\(shown)' contains AT")
        }
        let expected = text.unicodeScalars.compactMap { scalar -> UInt8? in
            guard scalar.isASCII else { return 0 }
            let byte = UInt8(scalar.value)
            if separators.contains(byte) { return nil }
            return (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
        }
        if expected != normalized {
            violations.append("accepted '\(show(input))' normalized to '\(shown)', not the input without separators")
        }
        if (try? DialString(dial.normalized))?.normalized != dial.normalized {
            violations.append("normalized '\(shown)' is not accepted unchanged")
        }
        let encoded = ATCommand(.dial(dial)).encoded()
        if encoded != Array("ATD".utf8) + normalized + [13] {
            violations.append("ATCommand.dial encodes '\(shown)' as '\(show(encoded))'")
        }
        do {
            let commands = try ATCommandLine(line: "ATD" + dial.normalized).commands
            if commands.count != 1 || commands.first?.kind != .dial || commands.first?.argument != dial.normalized {
                violations.append("'ATD\(shown)' parses as \(commands.map(\.description))")
            }
        } catch {
            violations.append("'ATD\(shown)' is not a command line: \(error)")
        }
        return violations
    }

    /// A refusal names a 1-based position inside the text (when it names one).
    private static func positionViolations(_ error: DialStringError, scalars: Int) -> [String] {
        let position: Int? = switch error {
        case .empty, .noDigits, .tooLong: nil
        case .controlCharacter(_, let position), .plusSign(let position), .embeddedCommand(let position),
             .invalidCharacter(_, let position), .misplacedSemicolon(let position): position
        }
        if let position, !(1...max(1, scalars)).contains(position) {
            return ["refusal \(error) names position \(position) of \(scalars)"]
        }
        return []
    }
}
