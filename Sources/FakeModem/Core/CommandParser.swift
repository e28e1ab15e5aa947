/// One command of an AT command line.
enum ATCommand: Equatable, Sendable {
    /// A basic command: a letter and an optional number (`E0`, `X4`, `H`, `I3`, `A`…).
    case basic(Character, Int?)
    /// An `&` command (`&C1`, `&D2`, `&F`, `&W`).
    case ampersand(Character, Int?)
    /// `Sn=v`, or `=v` for the selected register when `register` is nil.
    case setRegister(Int?, Int)
    /// `Sn?`, or `?` for the selected register.
    case queryRegister(Int?)
    /// `Sn` alone: selects register n for `?` and `=v`.
    case selectRegister(Int)
    /// `D` and the rest of the line.
    case dial(String)
    /// An extended command `+NAME` in one of its forms (`#NAME` and `%NAME` keep their
    /// prefix in the name: `#CID`, `%CCID`).
    case extended(String, ExtendedForm)
}

/// The form of an extended (`+`) command.
enum ExtendedForm: Equatable, Sendable {
    case action
    case query
    case test
    case set(String)
}

/// Splits the body of a command line (after `AT`, spaces removed, upper case) into
/// commands, one at a time. A syntax error ends the line: `next()` answers `.invalid`.
struct CommandParser {
    enum Item: Equatable {
        case command(ATCommand)
        case invalid
    }

    private let chars: [Character]
    private var index = 0

    init(_ body: String) { chars = Array(body) }

    private static let basicLetters: Set<Character> = ["A", "E", "H", "I", "L", "M", "O", "Q", "V", "W", "X", "Z"]
    private static let ampersandLetters: Set<Character> = ["C", "D", "F", "V", "W"]

    /// The next command, `.invalid` at a syntax error, `nil` at the end of the line.
    mutating func next() -> Item? {
        while index < chars.count, chars[index] == ";" { index += 1 }
        guard index < chars.count else { return nil }
        let c = chars[index]
        index += 1
        switch c {
        case "D":
            let rest = String(chars[index...])
            index = chars.count
            return .command(.dial(rest))
        case "+":
            return extended(prefix: "")
        case "#", "%":
            return extended(prefix: String(c))
        case "&":
            guard index < chars.count, CommandParser.ampersandLetters.contains(chars[index]) else { return .invalid }
            let letter = chars[index]
            index += 1
            guard case .parsed(let number) = parameter() else { return .invalid }
            return .command(.ampersand(letter, number))
        case "S":
            guard case .parsed(let register?) = parameter() else { return .invalid }
            return registerCommand(register)
        case "?":
            return .command(.queryRegister(nil))
        case "=":
            guard case .parsed(let value) = parameter() else { return .invalid }
            return .command(.setRegister(nil, value ?? 0))
        default:
            guard CommandParser.basicLetters.contains(c), case .parsed(let number) = parameter() else { return .invalid }
            return .command(.basic(c, number))
        }
    }

    private mutating func registerCommand(_ n: Int) -> Item {
        if index < chars.count, chars[index] == "?" {
            index += 1
            return .command(.queryRegister(n))
        }
        if index < chars.count, chars[index] == "=" {
            index += 1
            guard case .parsed(let value) = parameter() else { return .invalid }
            return .command(.setRegister(n, value ?? 0))
        }
        return .command(.selectRegister(n))
    }

    private enum Parameter {
        /// The digits read, `nil` when there were none.
        case parsed(Int?)
        /// More than three digits.
        case tooLong
    }

    /// Reads the numeric parameter of a command: up to three digits.
    private mutating func parameter() -> Parameter {
        var digits = ""
        while index < chars.count, chars[index].isASCII, chars[index].isNumber {
            digits.append(chars[index])
            index += 1
        }
        if digits.isEmpty { return .parsed(nil) }
        guard digits.count <= 3, let value = Int(digits) else { return .tooLong }
        return .parsed(value)
    }

    private static func isNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "!%-./:_".contains(c))
    }

    private mutating func extended(prefix: String) -> Item {
        var name = prefix
        while index < chars.count, CommandParser.isNameCharacter(chars[index]) {
            name.append(chars[index])
            index += 1
        }
        guard name.count > prefix.count else { return .invalid }
        guard index < chars.count, chars[index] != ";" else { return .command(.extended(name, .action)) }
        switch chars[index] {
        case "?":
            index += 1
            return endOfExtended() ? .command(.extended(name, .query)) : .invalid
        case "=":
            index += 1
            if index < chars.count, chars[index] == "?" {
                index += 1
                return endOfExtended() ? .command(.extended(name, .test)) : .invalid
            }
            var value = ""
            while index < chars.count, chars[index] != ";" {
                value.append(chars[index])
                index += 1
            }
            return .command(.extended(name, .set(value)))
        default:
            return .invalid
        }
    }

    /// An extended command must end the line or be followed by `;`.
    private func endOfExtended() -> Bool { index >= chars.count || chars[index] == ";" }
}

/// A parsed dial string (the text after `ATD`).
struct DialString: Equatable {
    /// The digits dialed (`0-9 * # A-D`), which the exchange routes.
    var digits: String
    /// The time the dial string itself takes: `,` pauses S8 each, `!` flashes 0.5 s.
    var duration: Duration
    /// The string ended with `;`: back to command mode with `OK`, still off-hook.
    var returnsToCommand: Bool
    /// `L`: redial the last number.
    var redial: Bool

    private static let digitCharacters: Set<Character> = Set("0123456789*#ABCD")
    private static let ignoredCharacters: Set<Character> = Set("TPRW@()-")

    /// Parses `text` (upper case, no spaces); `nil` for an illegal character, `S=n`
    /// (no stored numbers here) or a `;` that is not last.
    init?(_ text: String, registers: SRegisters) {
        var chars = Array(text)
        digits = ""
        duration = .zero
        returnsToCommand = false
        redial = false
        if chars.first == "L" {
            redial = true
            chars.removeFirst()
        }
        for (offset, c) in chars.enumerated() {
            if DialString.digitCharacters.contains(c) {
                digits.append(c)
            } else if c == "," {
                duration += registers.commaPause
            } else if c == "!" {
                duration += .milliseconds(500)
            } else if c == ";" {
                guard offset == chars.count - 1 else { return nil }
                returnsToCommand = true
            } else if !DialString.ignoredCharacters.contains(c) {
                return nil
            }
        }
    }
}
