import Hayes

/// Which callers a listening line answers (`AllowCallers=`, `RejectCallers=`): a caller
/// matching any reject pattern is never answered; with allow patterns, only a caller
/// matching one is. A pattern is a number with `?` for one digit and `*` for any run
/// (`555*`, `+4930*`, `0?0*`), or a word: `private` (the caller withheld the number),
/// `unknown` (no caller ID came, or the network could not give the number).
public struct CallerPolicy: Sendable, Equatable {
    /// One pattern.
    public enum Pattern: Sendable, Equatable, CustomStringConvertible {
        /// A number pattern (`?` one character, `*` any run).
        case number(String)
        /// The number was withheld.
        case withheld
        /// No number: no caller ID, or unavailable.
        case unknown

        /// Reads `private`, `unknown`, or a number pattern (digits, `+`, `#`, `?`, `*`);
        /// `nil` for anything else.
        public init?(_ text: String) {
            let trimmed = text.trimmingSpaces
            switch trimmed.lowercased() {
            case "private": self = .withheld
            case "unknown": self = .unknown
            default:
                guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && ($0.isNumber || "+#?*".contains($0)) }) else { return nil }
                self = .number(trimmed)
            }
        }

        public var description: String {
            switch self {
            case .number(let pattern): pattern
            case .withheld: "private"
            case .unknown: "unknown"
            }
        }

        /// Whether the caller matches.
        func matches(_ caller: CallerID?) -> Bool {
            switch self {
            case .withheld:
                return caller?.numberAbsence == .private
            case .unknown:
                guard let caller else { return true }
                return caller.number == nil && caller.numberAbsence != .private
            case .number(let pattern):
                guard let number = caller?.number else { return false }
                return (try? Self.regex(for: pattern).wholeMatch(in: number)) != nil
            }
        }

        /// The pattern as a regular expression: `?` one character, `*` any run, `+` and `#`
        /// themselves (the only characters a pattern may hold besides digits).
        private static func regex(for pattern: String) throws -> Regex<AnyRegexOutput> {
            let source = pattern.map { character -> String in
                switch character {
                case "*": ".*"
                case "?": "."
                case "+": "\\+"
                default: String(character)
                }
            }.joined()
            return try Regex(source)
        }
    }

    /// What the policy decided, and why.
    public enum Decision: Sendable, Equatable {
        /// Answer the call.
        case answer
        /// Never answer it: the pattern that rejected it (or `nil`: no allow pattern matched).
        case reject(because: Pattern?)
    }

    /// Callers answered when not empty (only they).
    public var allow: [Pattern]
    /// Callers never answered.
    public var reject: [Pattern]

    /// A policy; the default answers everyone.
    public init(allow: [Pattern] = [], reject: [Pattern] = []) {
        self.allow = allow
        self.reject = reject
    }

    /// Reads comma- or space-separated pattern lists.
    /// - Throws: the text that is not a pattern.
    public init(allow: String?, reject: String?) throws(CallerPolicyError) {
        self.init(allow: try Self.patterns(allow), reject: try Self.patterns(reject))
    }

    private static func patterns(_ text: String?) throws(CallerPolicyError) -> [Pattern] {
        guard let text else { return [] }
        var patterns: [Pattern] = []
        for word in text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
            guard let pattern = Pattern(String(word)) else { throw CallerPolicyError(text: String(word)) }
            patterns.append(pattern)
        }
        return patterns
    }

    /// What is wrong with a pattern list written for `key`, or `nil`.
    static func patternsProblem(_ text: String, key: String) -> String? {
        do throws(CallerPolicyError) {
            _ = try patterns(text)
            return nil
        } catch {
            return "'\(key)': \(error)"
        }
    }

    /// Whether to answer `caller` (`nil`: the call came without caller ID).
    public func decide(_ caller: CallerID?) -> Decision {
        if let rejecting = reject.first(where: { $0.matches(caller) }) { return .reject(because: rejecting) }
        if !allow.isEmpty, !allow.contains(where: { $0.matches(caller) }) { return .reject(because: nil) }
        return .answer
    }
}

/// A caller pattern that is neither a number pattern nor `private`/`unknown`.
public struct CallerPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text.
    public var text: String
    public var description: String {
        "'\(text)' is not a caller pattern (digits, + # ? *, or private / unknown)"
    }
}
