/// An AT command line split into its commands, following the V.250 syntax (§5.2–5.4) and
/// the vendor prefixes real modems use.
///
/// - **Basic commands**: a letter, or `&`, `\`, `%`, `-` or `)` and a letter, then an
///   optional decimal number: `E0`, `X4`, `&D2`, `\N3`, `%C1`, `H`.
/// - **S-parameters**: `S`, the register number (optionally `.bit`), then `=value`, `?` or
///   nothing: `S0=0`, `S7?`, `S27.4=1`.
/// - **Extended commands**: `+`, `#`, `$`, `*` or `^`, a name (a letter, then letters,
///   digits and `! % - . / : _`), then `=arguments`, `?`, `=?` or nothing. The arguments run
///   to the next `;` outside a quoted string, so `ATDT` inside `+CGDCONT=1,"IP","ATDT"` is a
///   string, not a command.
/// - **Dial**: `D` takes the rest of the line, `;` included, as its dial string; so does
///   `&Z` (store a number), which does not dial.
///
/// Spaces outside quoted strings are ignored and `;` separates commands, as on a modem.
/// Anything else where a command should start is refused, so a line that parses has no
/// part a modem could read as a command this parser did not see.
public struct ATCommandLine: Sendable, Hashable {
    /// One command of a line.
    public struct Command: Sendable, Hashable, CustomStringConvertible {
        /// The syntax class of a command.
        public enum Kind: Sendable, Hashable {
            /// A basic command (`E0`, `&D2`, `\N3`).
            case basic
            /// An S-parameter (`S0=0`, `S7?`).
            case sParameter
            /// An extended command (`+FCLASS=0`, `#CID=1`).
            case extended
            /// `D`: dial.
            case dial
        }

        /// The syntax class.
        public let kind: Kind
        /// The name in upper case: `E`, `&D`, `\N`, `S7`, `+FCLASS`, `D`.
        public let name: String
        /// What follows the name, spaces removed outside quoted strings: a basic command's
        /// number (`0` of `E0`, empty for `H`), an S-parameter's `=60`, `?` or nothing, an
        /// extended command's `=0`, `?`, `=?` or `=1,"IP","x"`, a dial's dial string.
        public let argument: String
        /// The 1-based position of the command's first character in the line as given.
        public let position: Int

        /// The command as written without spaces, e.g. `S7=60`.
        public var description: String { name + argument }

    }

    /// The commands in order.
    public let commands: [Command]

    /// Parses `line` (with or without its leading `AT`, as ``ATCommand/init(line:)``
    /// takes it, after the same checks).
    /// - Throws: ``ATCommandError``: the errors of ``ATCommand/init(line:)``,
    ///   ``ATCommandError/unexpectedCharacter(_:position:)`` where no command can start,
    ///   ``ATCommandError/missingRegisterNumber(position:)``,
    ///   ``ATCommandError/nonNumericArgument(command:argument:position:)``.
    public init(line: String) throws(ATCommandError) {
        let scanned = try ATCommand.scan(line)
        var parser = Parser(bytes: scanned.bytes, range: scanned.body)
        commands = try parser.parse()
    }
}

/// Reads the commands of a line body left to right; positions are byte indices + 1.
private struct Parser {
    let bytes: [UInt8]
    var index: Int
    let end: Int

    init(bytes: [UInt8], range: Range<Int>) {
        self.bytes = bytes
        index = range.lowerBound
        end = range.upperBound
    }

    static let basicPrefixes = Set("&\\%-)".utf8)
    static let extendedPrefixes = Set("+#$*^".utf8)
    static let nameCharacters = Set("!%-./:_".utf8)

    /// The next byte that is not a space, upper-cased; `nil` at the end.
    private mutating func peek() -> UInt8? {
        while index < end, bytes[index] == ASCII.space { index += 1 }
        return index < end ? ASCII.uppercased(bytes[index]) : nil
    }

    private mutating func digits() -> String {
        var text: [UInt8] = []
        while let byte = peek(), ASCII.isDigit(byte) {
            text.append(byte)
            index += 1
        }
        return ASCII.string(text)
    }

    /// The rest of the line without spaces (a dial string or a stored number).
    private mutating func rest() -> String {
        let text = bytes[index..<end].filter { $0 != ASCII.space }
        index = end
        return ASCII.string(text.map(ASCII.uppercased))
    }

    private func unexpected(at position: Int) -> ATCommandError {
        .unexpectedCharacter(Unicode.Scalar(bytes[position]), position: position + 1)
    }

    mutating func parse() throws(ATCommandError) -> [ATCommandLine.Command] {
        var commands: [ATCommandLine.Command] = []
        while let byte = peek() {
            let start = index
            if byte == ASCII.semicolon {
                index += 1
                continue
            }
            if byte == UInt8(ascii: "D") {
                index += 1
                commands.append(.init(kind: .dial, name: "D", argument: rest(), position: start + 1))
            } else if byte == UInt8(ascii: "S") {
                index += 1
                commands.append(try sParameter(start: start))
            } else if ASCII.isLetter(byte) {
                index += 1
                commands.append(.init(kind: .basic, name: ASCII.string([byte]), argument: digits(), position: start + 1))
            } else if Self.basicPrefixes.contains(byte) {
                index += 1
                guard let letter = peek(), ASCII.isLetter(letter) else {
                    throw index < end ? unexpected(at: index) : unexpected(at: start)
                }
                index += 1
                let name = ASCII.string([byte, letter])
                let argument = name == "&Z" ? rest() : digits()
                commands.append(.init(kind: .basic, name: name, argument: argument, position: start + 1))
            } else if Self.extendedPrefixes.contains(byte) {
                index += 1
                commands.append(try extended(prefix: byte, start: start))
            } else {
                throw unexpected(at: start)
            }
        }
        return commands
    }

    /// `S<n>[.<bit>]` then `=<value>`, `?` or nothing; `S` has been read.
    private mutating func sParameter(start: Int) throws(ATCommandError) -> ATCommandLine.Command {
        var register = digits()
        guard !register.isEmpty else { throw .missingRegisterNumber(position: start + 1) }
        if peek() == UInt8(ascii: ".") {
            index += 1
            register += "." + digits()
        }
        var argument = ""
        if peek() == UInt8(ascii: "=") {
            index += 1
            argument = "=" + digits()
        } else if peek() == UInt8(ascii: "?") {
            index += 1
            argument = "?"
        }
        return .init(kind: .sParameter, name: "S" + register, argument: argument, position: start + 1)
    }

    /// A name and its arguments; the prefix has been read.
    private mutating func extended(prefix: UInt8, start: Int) throws(ATCommandError) -> ATCommandLine.Command {
        guard let first = peek(), ASCII.isLetter(first) else {
            throw index < end ? unexpected(at: index) : unexpected(at: start)
        }
        var name: [UInt8] = [prefix]
        while let byte = peek(), ASCII.isAlphanumeric(byte) || Self.nameCharacters.contains(byte) {
            name.append(byte)
            index += 1
        }
        let command = ASCII.string(name)
        var argument: [UInt8] = []
        // Everything up to the next ';' outside a quoted string (quotes are balanced: the
        // line was checked).
        var quoted = false
        var value: [UInt8] = []
        var valueStart = index
        func checkValue() throws(ATCommandError) {
            // An unquoted value that starts with a digit must be a number: a modem that
            // stops reading the number would take the letters after it as commands.
            guard let head = value.first, ASCII.isDigit(head) else { return }
            if !value.allSatisfy({ ASCII.isDigit($0) || $0 == UInt8(ascii: ".") }) {
                throw .nonNumericArgument(command: command, argument: ASCII.string(value), position: valueStart + 1)
            }
        }
        while index < end {
            let byte = bytes[index]
            if byte == ASCII.quote {
                quoted.toggle()
                value.removeAll()
            } else if quoted {
                argument.append(byte)
                index += 1
                continue
            } else if byte == ASCII.semicolon {
                break
            } else if byte == ASCII.space {
                index += 1
                continue
            } else if byte == ASCII.comma || byte == UInt8(ascii: "=") {
                try checkValue()
                value.removeAll()
                valueStart = index + 1
            } else {
                if value.isEmpty { valueStart = index }
                value.append(ASCII.uppercased(byte))
            }
            argument.append(quoted ? byte : ASCII.uppercased(byte))
            index += 1
        }
        try checkValue()
        return .init(kind: .extended, name: command, argument: ASCII.string(argument), position: start + 1)
    }
}

extension ATCommand {
    /// A modem init string (a phonebook's `InitString`): a command line as
    /// ``init(line:)`` takes it that, parsed with ``ATCommandLine``, only configures the
    /// modem. Refused are `D` (dial), `A` (answer), `O` (go online), `H` with a non-zero
    /// number (off-hook) and `S0` set to non-zero (auto-answer), wherever they are in the
    /// line — also after a `;`.
    /// - Throws: ``ATCommandError/notAllowedInInitString(command:position:action:)``, and
    ///   the errors of ``ATCommandLine/init(line:)``.
    public init(initString line: String) throws(ATCommandError) {
        let parsed = try ATCommandLine(line: line)
        for command in parsed.commands {
            if let action = Self.forbiddenAction(command) {
                let written = command.kind == .dial ? command.name : command.description
                throw .notAllowedInInitString(command: written, position: command.position, action: action)
            }
        }
        try self.init(line: line)
    }

    private static func forbiddenAction(_ command: ATCommandLine.Command) -> ATCommandError.InitAction? {
        switch (command.kind, command.name) {
        case (.dial, _): return .dials
        case (.basic, "A"): return .answers
        case (.basic, "O"): return .goesOnline
        case (.basic, "H") where !isZero(command.argument): return .goesOffHook
        case (.sParameter, _) where Int(command.name.dropFirst()) == 0 && command.argument.hasPrefix("=")
            && !isZero(command.argument.dropFirst()):
            return .answersAutomatically
        default: return nil
        }
    }

    /// Whether a number as written is zero; no digits count as zero (`H` is `H0`), digits
    /// too large to read do not.
    private static func isZero(_ digits: some StringProtocol) -> Bool {
        digits.isEmpty || Int(digits) == 0
    }
}
