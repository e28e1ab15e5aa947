import Yams

/// Reads the YAML scenario format (see `Fixtures/scenarios/README.md`) from the node tree
/// of `Yams.compose`, so that every error can name its line and key.
struct ScenarioParser {
    let file: String

    private static let topKeys = ["description", "modem-defaults", "modems", "numbers", "otherwise"]
    private static let modemKeys = ["name", "number", "identity", "registers", "profile", "ring-interval", "faults", "calls", "pace"]
    private static let callKeys = [
        "after", "caller", "caller-id", "name", "wrong-checksum", "connect", "code", "data", "banner", "handshake",
        "hang-up-after", "rings",
    ]
    private static let identityKeys = ["I0", "I1", "I2", "I3", "I4", "I5", "I6", "I7", "I8", "I9", "GMI", "GMM", "GMR", "GSN", "GCAP"]
    private static let faultKeys = [
        "noise", "late-results", "duplicate-results", "ignore-dtr", "ignore-hangup", "slow", "stuck-echo",
        "drop-first-lines", "omit-leading-crlf", "spurious-rings", "parity-bit", "busy-after-reset",
        "command-gap",
    ]
    private static let noiseKeys = ["rate", "seed", "before", "after"]
    private static let outcomeKeys = [
        "delay", "intermediates", "connect", "code", "data", "banner", "drop-after", "unplug-after",
        "result", "silence", "ring", "handshake",
    ]
    private static let progressKeys = ["text", "code", "delay"]

    func parse(_ yaml: String) throws(ScenarioError) -> Scenario {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw yamlError(error)
        }
        var scenario = Scenario(source: file)
        guard let root else { return scenario }
        let entries = try mapping(root, key: nil, allowed: ScenarioParser.topKeys)
        if let node = entries["description"] { scenario.summary = try string(node, key: "description") }
        if let node = entries["modem-defaults"] {
            scenario.modemDefaults = try modemSettings(node, base: ModemSettings(), key: "modem-defaults")
        }
        if let node = entries["modems"] {
            scenario.modems = try sequence(node, key: "modems").enumerated().map { (index, item) throws(ScenarioError) in
                try modemSettings(item, base: scenario.modemDefaults, key: "modems[\(index)]")
            }
            try checkModems(scenario.modems, node: node)
        }
        if let node = entries["numbers"] {
            scenario.routes = try sequence(node, key: "numbers").enumerated().map { (index, item) throws(ScenarioError) in
                try route(item, key: "numbers[\(index)]")
            }
        }
        if let node = entries["otherwise"] {
            scenario.otherwise = try outcome(node, key: "otherwise", allowed: ScenarioParser.outcomeKeys)
        }
        return scenario
    }

    // MARK: Modems

    private func modemSettings(_ node: Node, base: ModemSettings, key: String) throws(ScenarioError) -> ModemSettings {
        var settings = base
        let entries = try mapping(node, key: key, allowed: ScenarioParser.modemKeys)
        if let value = entries["name"] {
            let name = try string(value, key: "\(key).name")
            let allowed = name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)) }
            guard !name.isEmpty, allowed else {
                throw error(value, "\(key).name", "a modem name may hold only letters, digits, '.', '_' and '-', got '\(name)'")
            }
            settings.name = name
        }
        if let value = entries["number"] { settings.number = try digits(value, key: "\(key).number") }
        if let value = entries["identity"] { settings.identity = try identity(value, base: settings.identity, key: "\(key).identity") }
        if let value = entries["registers"] { settings.registers = try registers(value, base: settings.registers, key: "\(key).registers") }
        if let value = entries["profile"] {
            let profile = try string(value, key: "\(key).profile")
            if let problem = ModemEmulator.problem(withProfile: profile) { throw error(value, "\(key).profile", problem) }
            settings.profile = profile
        }
        if let value = entries["ring-interval"] {
            settings.ringInterval = try seconds(value, key: "\(key).ring-interval")
            guard settings.ringInterval > .zero else { throw error(value, "\(key).ring-interval", "must be more than 0") }
        }
        if let value = entries["faults"] { settings.faults = try faults(value, base: settings.faults, key: "\(key).faults") }
        if let value = entries["calls"] {
            settings.calls = try sequence(value, key: "\(key).calls").enumerated().map { (index, item) throws(ScenarioError) in
                try externalCall(item, key: "\(key).calls[\(index)]")
            }
        }
        if let value = entries["pace"] { settings.pace = try bool(value, key: "\(key).pace") }
        return settings
    }

    private func checkModems(_ modems: [ModemSettings], node: Node) throws(ScenarioError) {
        let items = node.sequence.map(Array.init) ?? []
        var names: Set<String> = []
        var numbers: Set<String> = []
        for (index, settings) in modems.enumerated() {
            let item = index < items.count ? items[index] : node
            if let name = settings.name, !names.insert(name).inserted {
                throw error(item, "modems[\(index)].name", "the name '\(name)' is used twice")
            }
            if let number = settings.number, !numbers.insert(number).inserted {
                throw error(item, "modems[\(index)].number", "the number '\(number)' is used twice")
            }
        }
    }

    private func identity(_ node: Node, base: ModemIdentity, key: String) throws(ScenarioError) -> ModemIdentity {
        var identity = base
        for (name, value) in try mapping(node, key: key, allowed: ScenarioParser.identityKeys).ordered {
            let text = try string(value, key: "\(key).\(name)")
            switch name {
            case "GMI": identity.manufacturer = text
            case "GMM": identity.model = text
            case "GMR": identity.revision = text
            case "GSN": identity.serialNumber = text
            case "GCAP": identity.capabilities = text
            default:
                if let number = Int(name.dropFirst()) { identity.information[number] = text }
            }
        }
        return identity
    }

    private func registers(_ node: Node, base: [Int: Int], key: String) throws(ScenarioError) -> [Int: Int] {
        var registers = base
        guard case .mapping(let pairs) = node else { throw error(node, key, "expected a mapping of S-registers, e.g. {S7: 30}") }
        for (keyNode, value) in pairs {
            let name = keyNode.scalar?.string ?? ""
            let digits = name.uppercased().hasPrefix("S") ? String(name.dropFirst()) : name
            guard let number = Int(digits), SRegisters.isKnown(number) else {
                let known = SRegisters.factoryDefaults.keys.sorted().map { "S\($0)" }.joined(separator: ", ")
                throw error(keyNode, "\(key).\(name)", "unknown S-register (known: \(known))")
            }
            registers[number] = try integer(value, key: "\(key).\(name)", in: 0...255)
        }
        return registers
    }

    private func faults(_ node: Node, base: FaultSet, key: String) throws(ScenarioError) -> FaultSet {
        var faults = base
        for (name, value) in try mapping(node, key: key, allowed: ScenarioParser.faultKeys).ordered {
            let path = "\(key).\(name)"
            switch name {
            case "noise": faults.noise = try noise(value, key: path)
            case "late-results": faults.lateResults = try seconds(value, key: path)
            case "duplicate-results": faults.duplicateResults = try bool(value, key: path)
            case "ignore-dtr": faults.ignoresDTR = try bool(value, key: path)
            case "ignore-hangup": faults.ignoresHangUp = try bool(value, key: path)
            case "slow": faults.slowResponses = try seconds(value, key: path)
            case "stuck-echo": faults.stuckEcho = try bool(value, key: path)
            case "drop-first-lines": faults.droppedFirstLines = try integer(value, key: path, in: 0...1000)
            case "omit-leading-crlf": faults.omitsLeadingCRLF = try bool(value, key: path)
            case "parity-bit": faults.parityBit = try bool(value, key: path)
            case "busy-after-reset": faults.busyAfterReset = try seconds(value, key: path)
            case "command-gap": faults.minimumCommandGap = try seconds(value, key: path)
            default:
                let interval = try seconds(value, key: path)
                guard interval > .zero else { throw error(value, path, "must be more than 0") }
                faults.spuriousRingInterval = interval
            }
        }
        return faults
    }

    private func noise(_ node: Node, key: String) throws(ScenarioError) -> LineNoise {
        if case .scalar = node { return LineNoise(rate: try probability(node, key: key)) }
        let entries = try mapping(node, key: key, allowed: ScenarioParser.noiseKeys)
        guard let rateNode = entries["rate"] else { throw error(node, key, "noise needs a 'rate' (0…1)") }
        var noise = LineNoise(rate: try probability(rateNode, key: "\(key).rate"))
        if let value = entries["seed"] { noise.seed = UInt64(try integer(value, key: "\(key).seed", in: 0...Int.max)) }
        if let value = entries["before"] { noise.before = try bool(value, key: "\(key).before") }
        if let value = entries["after"] { noise.after = try bool(value, key: "\(key).after") }
        return noise
    }

    // MARK: Calls from outside

    private func externalCall(_ node: Node, key: String) throws(ScenarioError) -> ExternalCall {
        let entries = try mapping(node, key: key, allowed: ScenarioParser.callKeys)
        guard let afterNode = entries["after"] else { throw error(node, key, "a call needs 'after' (seconds from power-on to the first RING)") }
        var caller = CallerID(number: .unavailable)
        if let value = entries["caller"] {
            switch try string(value, key: "\(key).caller") {
            case "private", "P": caller.number = .private
            case "unavailable", "O": caller.number = .unavailable
            default: caller.number = .number(try digits(value, key: "\(key).caller"))
            }
        }
        if let value = entries["caller-id"] {
            let text = try string(value, key: "\(key).caller-id")
            guard let form = CallerIDForm(rawValue: text) else {
                let forms = CallerIDForm.allCases.map(\.rawValue).joined(separator: ", ")
                throw error(value, "\(key).caller-id", "caller-id is one of \(forms), got '\(text)'")
            }
            caller.form = form
        }
        if let value = entries["name"] {
            let name = try string(value, key: "\(key).name")
            guard !name.isEmpty, name.utf8.count <= 80, name.allSatisfy({ $0.isASCII && !$0.isNewline && $0 != "\"" }) else {
                throw error(value, "\(key).name", "a caller name is 1 to 80 ASCII characters without quotes or line breaks")
            }
            caller.name = name
        }
        if let value = entries["wrong-checksum"] { caller.wrongChecksum = try bool(value, key: "\(key).wrong-checksum") }
        var call = ExternalCall(after: try seconds(afterNode, key: "\(key).after"), caller: caller)
        let code = try entries["code"].map { (value) throws(ScenarioError) in try integer(value, key: "\(key).code", in: 0...255) }
        if let value = entries["connect"] { call.connect.result = try connectResult(value, code: code, key: "\(key).connect") }
        if let value = entries["data"] {
            switch try string(value, key: "\(key).data") {
            case "loopback", "echo": call.connect.data = .loopback
            case "silent": call.connect.data = .silent
            case let other: throw error(value, "\(key).data", "data is 'loopback', 'echo' or 'silent', got '\(other)'")
            }
        }
        if let value = entries["banner"] { call.connect.banner = Array(try string(value, key: "\(key).banner").utf8) }
        if let value = entries["handshake"] { call.handshake = try seconds(value, key: "\(key).handshake") }
        if let value = entries["hang-up-after"] { call.hangUpAfter = try seconds(value, key: "\(key).hang-up-after") }
        if let value = entries["rings"] { call.rings = try integer(value, key: "\(key).rings", in: 1...255) }
        return call
    }

    // MARK: Routes

    private func route(_ node: Node, key: String) throws(ScenarioError) -> NumberRoute {
        let entries = try mapping(node, key: key, allowed: ["number", "pattern"] + ScenarioParser.outcomeKeys)
        let match: NumberRoute.Match
        switch (entries["number"], entries["pattern"]) {
        case (let value?, nil): match = .exact(try digits(value, key: "\(key).number"))
        case (nil, let value?):
            let pattern = try string(value, key: "\(key).pattern")
            guard !pattern.isEmpty, pattern.allSatisfy({ "0123456789*#ABCD?".contains($0) }) else {
                throw error(value, "\(key).pattern", "a pattern holds dial digits (0-9 * # A-D) and the wildcards * and ?, got '\(pattern)'")
            }
            match = .glob(pattern)
        case (.some, .some): throw error(node, key, "give either 'number' or 'pattern', not both")
        case (nil, nil): throw error(node, key, "a route needs 'number' (exact) or 'pattern' (glob)")
        }
        let origin = node.mark.map { "\(file):\($0.line)" } ?? file
        return NumberRoute(match, try outcome(node, key: key, allowed: ["number", "pattern"] + ScenarioParser.outcomeKeys), origin: origin)
    }

    private func outcome(_ node: Node, key: String, allowed: [String]) throws(ScenarioError) -> CallOutcome {
        let entries = try mapping(node, key: key, allowed: allowed)
        let kinds = ["connect", "result", "silence", "ring"].filter { entries[$0] != nil }
        let isRing = entries["ring"] != nil
        guard isRing || kinds.count == 1 else {
            throw error(node, key, kinds.isEmpty
                ? "say what happens: one of 'connect', 'result', 'silence', 'ring'"
                : "give only one of 'connect', 'result', 'silence' (found \(kinds.joined(separator: ", ")))")
        }
        if isRing, let other = ["result", "silence", "banner", "unplug-after"].first(where: { entries[$0] != nil }) {
            throw error(entries[other], "\(key).\(other)", "not allowed with 'ring'")
        }
        if !isRing, let value = entries["handshake"] { throw error(value, "\(key).handshake", "only a 'ring' route has a handshake") }
        if entries["connect"] == nil {
            for name in ["data", "banner", "drop-after", "unplug-after"] where entries[name] != nil && !isRing {
                throw error(entries[name], "\(key).\(name)", "only a 'connect' or 'ring' outcome has '\(name)'")
            }
        }
        if entries["code"] != nil, entries["connect"] == nil, entries["result"] == nil {
            throw error(entries["code"], "\(key).code", "'code' numbers a 'connect' or 'result' text")
        }

        var outcome = CallOutcome(kind: .silence)
        if let value = entries["delay"] { outcome.delay = try seconds(value, key: "\(key).delay") }
        if let value = entries["intermediates"] {
            outcome.progress = try sequence(value, key: "\(key).intermediates").enumerated().map { (index, item) throws(ScenarioError) in
                try progressLine(item, key: "\(key).intermediates[\(index)]")
            }
        }
        let code = try entries["code"].map { (value) throws(ScenarioError) in try integer(value, key: "\(key).code", in: 0...255) }
        let connect = try entries["connect"].map { (value) throws(ScenarioError) in try connectResult(value, code: code, key: "\(key).connect") }
        let dropAfter = try entries["drop-after"].map { (value) throws(ScenarioError) in try seconds(value, key: "\(key).drop-after") }

        if let value = entries["ring"] {
            var ring = RingSpec(modem: try string(value, key: "\(key).ring"))
            if let connect { ring.connect = connect }
            if let value = entries["handshake"] { ring.handshake = try seconds(value, key: "\(key).handshake") }
            if let value = entries["data"] {
                switch try string(value, key: "\(key).data") {
                case "peer": ring.calleeEchoes = false
                case "echo": ring.calleeEchoes = true
                case let other: throw error(value, "\(key).data", "a ring call's data is 'peer' or 'echo', got '\(other)'")
                }
            }
            ring.carrierDropAfter = dropAfter
            outcome.kind = .ring(ring)
        } else if let connect {
            var spec = ConnectSpec(result: connect, carrierDropAfter: dropAfter)
            if let value = entries["data"] {
                switch try string(value, key: "\(key).data") {
                case "loopback", "echo": spec.data = .loopback
                case "silent": spec.data = .silent
                case let other: throw error(value, "\(key).data", "data is 'loopback', 'echo' or 'silent', got '\(other)'")
                }
            }
            if let value = entries["banner"] { spec.banner = Array(try string(value, key: "\(key).banner").utf8) }
            if let value = entries["unplug-after"] { spec.unplugAfter = try seconds(value, key: "\(key).unplug-after") }
            outcome.kind = .connect(spec)
        } else if let value = entries["result"] {
            outcome.kind = .result(try failureResult(value, code: code, key: "\(key).result"))
        } else if let value = entries["silence"] {
            guard try bool(value, key: "\(key).silence") else { throw error(value, "\(key).silence", "write 'silence: true' or leave it out") }
            outcome.kind = .silence
        }
        return outcome
    }

    private func connectResult(_ node: Node, code: Int?, key: String) throws(ScenarioError) -> ResultCode {
        let text = try string(node, key: key)
        guard text == "CONNECT" || text.hasPrefix("CONNECT ") else {
            throw error(node, key, "a connect text starts with 'CONNECT', got '\(text)'")
        }
        return ResultCode(text: text, code: code ?? ResultCode.standardCode(for: text) ?? 1)
    }

    private func failureResult(_ node: Node, code: Int?, key: String) throws(ScenarioError) -> ResultCode {
        let text = try string(node, key: key)
        if text == "CONNECT" || text.hasPrefix("CONNECT ") { throw error(node, key, "use 'connect:' for a CONNECT outcome") }
        if text == "OK" || text == "RING" { throw error(node, key, "'\(text)' does not end a call") }
        guard !text.isEmpty, !text.contains(where: { $0 == "\r" || $0 == "\n" }) else { throw error(node, key, "a result is one non-empty line") }
        guard let number = code ?? ResultCode.standardCode(for: text) else {
            throw error(node, key, "'\(text)' has no standard numeric code; add 'code:' (its number in V0)")
        }
        return ResultCode(text: text, code: number)
    }

    private func progressLine(_ node: Node, key: String) throws(ScenarioError) -> ProgressLine {
        if case .scalar = node { return ProgressLine(try string(node, key: key)) }
        let entries = try mapping(node, key: key, allowed: ScenarioParser.progressKeys)
        guard let textNode = entries["text"] else { throw error(node, key, "an intermediate line needs 'text'") }
        var line = ProgressLine(try string(textNode, key: "\(key).text"))
        if let value = entries["code"] { line.code = try integer(value, key: "\(key).code", in: 0...255) }
        if let value = entries["delay"] { line.delay = try seconds(value, key: "\(key).delay") }
        return line
    }

    // MARK: Scalars and structure

    /// A mapping's entries by key, in order; unknown and repeated keys are errors.
    private struct Entries {
        var ordered: [(String, Node)] = []
        subscript(name: String) -> Node? { ordered.first { $0.0 == name }?.1 }
    }

    private func mapping(_ node: Node, key: String?, allowed: [String]) throws(ScenarioError) -> Entries {
        guard case .mapping(let pairs) = node else { throw error(node, key, "expected a mapping (key: value lines)") }
        var entries = Entries()
        for (keyNode, value) in pairs {
            guard let name = keyNode.scalar?.string else { throw error(keyNode, key, "a key must be plain text") }
            let path = key.map { "\($0).\(name)" } ?? name
            guard allowed.contains(name) else {
                throw error(keyNode, path, "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
            }
            guard entries[name] == nil else { throw error(keyNode, path, "the key appears twice") }
            entries.ordered.append((name, value))
        }
        return entries
    }

    private func sequence(_ node: Node, key: String) throws(ScenarioError) -> [Node] {
        guard case .sequence(let items) = node else { throw error(node, key, "expected a list (lines starting with '-')") }
        return Array(items)
    }

    private func string(_ node: Node, key: String) throws(ScenarioError) -> String {
        guard case .scalar(let scalar) = node else { throw error(node, key, "expected a single value") }
        return scalar.string
    }

    private func digits(_ node: Node, key: String) throws(ScenarioError) -> String {
        let text = try string(node, key: key)
        guard !text.isEmpty, text.allSatisfy({ "0123456789*#ABCD".contains($0) }) else {
            throw error(node, key, "a phone number holds dial digits only (0-9 * # A-D), got '\(text)'")
        }
        return text
    }

    private func integer(_ node: Node, key: String, in range: ClosedRange<Int>) throws(ScenarioError) -> Int {
        let text = try string(node, key: key)
        guard let value = Int(text), range.contains(value) else {
            throw error(node, key, "expected a whole number in \(range.lowerBound)…\(range.upperBound), got '\(text)'")
        }
        return value
    }

    private func bool(_ node: Node, key: String) throws(ScenarioError) -> Bool {
        switch try string(node, key: key).lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        case let other: throw error(node, key, "expected true or false, got '\(other)'")
        }
    }

    private func probability(_ node: Node, key: String) throws(ScenarioError) -> Double {
        let text = try string(node, key: key)
        guard let value = Double(text), (0...1).contains(value) else {
            throw error(node, key, "expected a probability from 0 to 1, got '\(text)'")
        }
        return value
    }

    /// Seconds: a number (`0.25`), or a number with `s` or `ms` (`250ms`).
    private func seconds(_ node: Node, key: String) throws(ScenarioError) -> Duration {
        let text = try string(node, key: key).trimmingSpaces
        var number = text
        var scale = 1.0
        if text.hasSuffix("ms") {
            number = String(text.dropLast(2)).trimmingSpaces
            scale = 0.001
        } else if text.hasSuffix("s") {
            number = String(text.dropLast()).trimmingSpaces
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale <= 86_400 else {
            throw error(node, key, "expected seconds (e.g. 0.5, 2, 250ms), got '\(text)'")
        }
        return .milliseconds(Int((value * scale * 1000).rounded()))
    }

    // MARK: Errors

    private func error(_ node: Node?, _ key: String?, _ message: String) -> ScenarioError {
        ScenarioError(file: file, line: node?.mark?.line, column: node?.mark?.column, key: key, message: message)
    }

    private func yamlError(_ error: any Error) -> ScenarioError {
        guard let yaml = error as? YamlError else {
            return ScenarioError(file: file, message: "not valid YAML: \(error)")
        }
        switch yaml {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ScenarioError(file: file, line: mark.line, column: mark.column, message: "not valid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ScenarioError(file: file, line: context.mark.line, column: context.mark.column,
                                 key: duplicates.first, message: "the key appears twice")
        default:
            return ScenarioError(file: file, message: "not valid YAML: \(yaml)")
        }
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
