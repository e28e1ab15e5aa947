/// The settings a modem keeps in its profile: what `&F` restores, `&W` saves and `Z`
/// reloads.
struct Profile: Sendable, Equatable {
    var echo = true
    var verbose = true
    var quiet = false
    /// `X`: result code level 0…4.
    var resultLevel = 4
    /// `&C`: 0 = DCD always on, 1 = DCD follows carrier (a pty has no DCD: seen over RFC 2217 only).
    var dcdMode = 1
    /// `&D`: 0 ignore DTR, 1 online-command mode, 2 hang up, 3 reset.
    var dtrMode = 2
    /// `W`: CONNECT message format (stored only).
    var connectMessages = 0
    /// `L` / `M`: speaker volume and mode (stored only).
    var speakerVolume = 1
    var speakerMode = 1
    /// `+FCLASS`: only 0 (data) is supported.
    var faxClass = 0
    /// Caller ID presentation: `+VCID`, `#CID`, `%CCID`, `+CLIP` (off at power-on).
    var callerID = CallerIDMode.off
    var registers = SRegisters()

    /// The caller ID modes each family's command takes, by its value.
    static let callerIDCommands: [String: [String: CallerIDMode]] = [
        "VCID": ["0": .off, "1": .formatted, "2": .unformatted],
        "#CID": ["0": .off, "1": .formatted, "2": .unformatted],
        "%CCID": ["0": .off, "1": .formatted],
        "CLIP": ["0": .off, "1": .clip],
    ]

    /// Applies a settings command (E V Q X L M W &C &D Sn=v +FCLASS=0 +VCID #CID %CCID +CLIP); `false` if the
    /// command is not a settings command or its value is out of range.
    mutating func apply(_ command: ATCommand) -> Bool {
        switch command {
        case .basic("E", let n): return set(&echo, n)
        case .basic("V", let n): return set(&verbose, n)
        case .basic("Q", let n): return set(&quiet, n)
        case .basic("X", let n): return set(&resultLevel, n, 0...4)
        case .basic("L", let n): return set(&speakerVolume, n, 0...3)
        case .basic("M", let n): return set(&speakerMode, n, 0...3)
        case .basic("W", let n): return set(&connectMessages, n, 0...2)
        case .ampersand("C", let n): return set(&dcdMode, n, 0...1)
        case .ampersand("D", let n): return set(&dtrMode, n, 0...3)
        case .setRegister(let register?, let value): return registers.set(register, to: value)
        case .extended("FCLASS", .set("0")):
            faxClass = 0
            return true
        case .extended(let name, .set(let value)):
            guard let mode = Profile.callerIDCommands[name]?[value] else { return false }
            callerID = mode
            return true
        default: return false
        }
    }

    private func set(_ flag: inout Bool, _ value: Int?) -> Bool {
        switch value ?? 0 {
        case 0: flag = false
        case 1: flag = true
        default: return false
        }
        return true
    }

    private func set(_ field: inout Int, _ value: Int?, _ range: ClosedRange<Int>) -> Bool {
        guard range.contains(value ?? 0) else { return false }
        field = value ?? 0
        return true
    }

    /// The hardware defaults with the modem's factory registers and profile commands.
    init(settings: ModemSettings) {
        registers = SRegisters(overrides: settings.registers)
        var parser = CommandParser(settings.profile.filter { $0 != " " }.uppercased())
        while case .command(let command)? = parser.next(), apply(command) {}
    }

    /// Checks a profile command string; returns what is wrong, or `nil` if it is valid.
    static func problem(with profile: String) -> String? {
        var scratch = Profile(settings: ModemSettings())
        let body = profile.filter { $0 != " " }.uppercased()
        var parser = CommandParser(body)
        while let item = parser.next() {
            guard case .command(let command) = item, scratch.apply(command) else {
                return "'\(profile)' is not a string of settings commands (E V Q X L M W &C &D Sn=v +FCLASS=0 +VCID #CID %CCID +CLIP)"
            }
        }
        return nil
    }
}
