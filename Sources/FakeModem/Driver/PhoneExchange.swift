/// The phone exchange that connects the modems of a bank: it routes dialed numbers by the
/// scenario and remembers which modems are on a call with each other.
struct PhoneExchange: Sendable {
    /// Where a dialed number goes.
    enum Decision: Equatable {
        /// A scripted outcome.
        case scripted(CallOutcome)
        /// Ring modem `index`, the first ring after `delay`.
        case ring(index: Int, RingSpec, delay: Duration)
    }

    private let routes: [NumberRoute]
    private let otherwise: CallOutcome
    private let modemByNumber: [String: Int]
    private let modemByName: [String: Int]
    private let names: [String]
    private var peers: [Int: Int] = [:]

    /// When a modem is rung by its own number: the first `RING` comes this long after dialing.
    static let firstRingDelay: Duration = .milliseconds(100)

    /// An exchange for modems with these names and numbers (index = position).
    init(scenario: Scenario, names: [String], numbers: [String]) {
        routes = scenario.routes
        otherwise = scenario.otherwise
        self.names = names
        modemByName = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        modemByNumber = Dictionary(numbers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// A modem's own number rings it; then the routes in order; then `otherwise`.
    func route(_ number: String) -> Decision {
        if let index = modemByNumber[number] {
            return .ring(index: index, RingSpec(modem: names[index]), delay: PhoneExchange.firstRingDelay)
        }
        let outcome = routes.first { $0.match.matches(number) }?.outcome ?? otherwise
        if case .ring(let spec) = outcome.kind, let index = modemByName[spec.modem] {
            return .ring(index: index, spec, delay: outcome.delay)
        }
        return .scripted(outcome)
    }

    /// The modem `index` is on a call with (or ringing, or being rung by).
    func peer(of index: Int) -> Int? { peers[index] }

    mutating func link(_ a: Int, _ b: Int) {
        peers[a] = b
        peers[b] = a
    }

    /// Ends the link of `index`; returns the other modem, if there was one.
    mutating func unlink(_ index: Int) -> Int? {
        guard let other = peers.removeValue(forKey: index) else { return nil }
        peers.removeValue(forKey: other)
        return other
    }
}
