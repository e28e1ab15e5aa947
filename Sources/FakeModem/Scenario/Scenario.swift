import Foundation
import SystemIO

/// A phone exchange and the modems on it: which numbers connect, fail or ring another
/// fake modem, and how each modem is set up. Read one from YAML with
/// ``init(contentsOf:)`` (format: `Fixtures/scenarios/README.md`), or build one in code.
public struct Scenario: Sendable, Equatable {
    /// Where the scenario came from (a file name, or `built-in`).
    public var source: String
    /// A line saying what the scenario is for.
    public var summary: String?
    /// Settings of every modem not listed in ``modems`` (and the base of listed ones
    /// when read from YAML).
    public var modemDefaults: ModemSettings
    /// Settings of modems 0, 1, … in order.
    public var modems: [ModemSettings]
    /// Number routes, tried in order after the modems' own numbers.
    public var routes: [NumberRoute]
    /// What happens to a number no route matches.
    public var otherwise: CallOutcome

    /// A scenario built in code.
    public init(
        source: String = "built-in", summary: String? = nil, modemDefaults: ModemSettings = ModemSettings(),
        modems: [ModemSettings] = [], routes: [NumberRoute] = [], otherwise: CallOutcome = Scenario.connectEverything
    ) {
        self.source = source
        self.summary = summary
        self.modemDefaults = modemDefaults
        self.modems = modems
        self.routes = routes
        self.otherwise = otherwise
    }

    /// Every number connects after 200 ms with `CONNECT 115200` (code 19) and loops data back.
    public static let connectEverything = CallOutcome.connect("CONNECT 115200")

    /// The built-in exchange: no routes, every number connects (``connectEverything``),
    /// except the modems' own numbers (`1000`, `1001`, …), which ring them.
    public static let `default` = Scenario(summary: "every number connects")

    /// Reads a YAML scenario file.
    /// - Throws: ``ScenarioError`` naming the file, line and key of the first problem.
    public init(contentsOf url: URL) throws(ScenarioError) {
        let bytes: [UInt8]
        do {
            bytes = try SafeFile.readRegularFile(url.path)
        } catch {
            throw ScenarioError(file: url.path, message: "cannot read the file: \(error)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ScenarioError(file: url.path, message: "cannot read the file: it is not UTF-8 text")
        }
        try self.init(yaml: text, source: url.path)
    }

    /// Parses a YAML scenario; `source` names it in errors.
    public init(yaml: String, source: String) throws(ScenarioError) {
        self = try ScenarioParser(file: source).parse(yaml)
    }

    /// The settings of modem `index` with its name and number filled in.
    public func settings(forModemAt index: Int) -> ModemSettings {
        var settings = index < modems.count ? modems[index] : modemDefaults
        if settings.name == nil { settings.name = "modem\(index)" }
        if settings.number == nil { settings.number = String(1000 + index) }
        return settings
    }

    /// Applies `change` to the settings of every modem (listed or not), e.g. to add the
    /// call of `--ring-after` or impose `--pace`.
    public mutating func changeModems(_ change: (inout ModemSettings) -> Void) {
        change(&modemDefaults)
        for index in modems.indices { change(&modems[index]) }
    }

    /// Applies `change` to the faults of every modem (listed or not), e.g. to impose the
    /// fault flags of the command line.
    public mutating func changeFaults(_ change: (inout FaultSet) -> Void) {
        change(&modemDefaults.faults)
        for index in modems.indices { change(&modems[index].faults) }
    }
}

/// A number, or a pattern of numbers, and what dialing it does.
public struct NumberRoute: Sendable, Equatable {
    /// Which dialed numbers a route takes. A dialed number is compared by its digits only
    /// (`0-9 * # A-D`): `ATDT555-1234` dials `5551234`.
    public enum Match: Sendable, Equatable, CustomStringConvertible {
        /// Exactly this number.
        case exact(String)
        /// A glob: `*` any digits (also none), `?` one digit, anything else itself (so a
        /// pattern cannot ask for a literal `*`; use ``exact(_:)`` for such numbers).
        case glob(String)

        /// Whether `number` is taken by this match.
        public func matches(_ number: String) -> Bool {
            switch self {
            case .exact(let exact): return exact == number
            case .glob(let pattern): return globMatches(Array(pattern), Array(number))
            }
        }

        public var description: String {
            switch self {
            case .exact(let number): "number \(number)"
            case .glob(let pattern): "pattern \(pattern)"
            }
        }
    }

    /// Which numbers.
    public var match: Match
    /// What happens.
    public var outcome: CallOutcome
    /// Where the route was written (`file:line`), for messages.
    public var origin: String?

    /// A route.
    public init(_ match: Match, _ outcome: CallOutcome, origin: String? = nil) {
        self.match = match
        self.outcome = outcome
        self.origin = origin
    }
}

/// Glob matching with `*` and `?`.
private func globMatches(_ pattern: [Character], _ text: [Character]) -> Bool {
    var p = 0, t = 0
    var star: Int?, starText = 0
    while t < text.count {
        if p < pattern.count, pattern[p] == "*" {
            star = p
            starText = t
            p += 1
        } else if p < pattern.count, pattern[p] == "?" || pattern[p] == text[t] {
            p += 1
            t += 1
        } else if let s = star {
            p = s + 1
            starText += 1
            t = starText
        } else {
            return false
        }
    }
    while p < pattern.count, pattern[p] == "*" { p += 1 }
    return p == pattern.count
}

/// A problem in a scenario: the file, line and column, the key (a path such as
/// `numbers[2].delay`) and what is wrong.
public struct ScenarioError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The scenario file (or source name).
    public var file: String
    /// The 1-based line, when known.
    public var line: Int?
    /// The 1-based column, when known.
    public var column: Int?
    /// The key path of the offending entry, when there is one.
    public var key: String?
    /// What is wrong.
    public var message: String

    /// A scenario error.
    public init(file: String, line: Int? = nil, column: Int? = nil, key: String? = nil, message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.key = key
        self.message = message
    }

    /// `file:line:column: key 'path': message`.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let column { text += ":\(column)" }
        text += ": "
        if let key { text += "key '\(key)': " }
        return text + message
    }
}
