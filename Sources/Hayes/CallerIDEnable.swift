/// How to turn caller ID reporting on, per modem family: data, not code.
///
/// Each entry names a family, the command that enables formatted caller ID on it, and the
/// identity clues that point to it: `+GCAP` capabilities (exact, any case) and text found
/// in the manufacturer, model or `ATI` lines (substring, any case).
/// ``candidates(manufacturer:model:information:capabilities:)`` orders the entries for a
/// modem: those whose capability matches, then those whose text matches, then the rest of
/// ``fallbackOrder``. A session sends each in turn and keeps the first that answers `OK` (a
/// modem answers `ERROR` to a command it lacks).
///
/// Every command but one is a valid init string (``ATCommand/init(initString:)``), which
/// the tests check. The exception is Hayes/Lucent `%CCID=1`, an extended command behind the
/// `%` prefix that V.250-style parsers (ours, and perhaps a modem without it) read as
/// `%C`, `C`, `I` and `D=1` — a dial. It is marked ``requiresIdentification``: offered only
/// when the identity names the family, never as a blind fallback.
public struct CallerIDEnable: Sendable, Hashable, Codable {
    /// A family of modems sharing one caller ID command.
    public enum Family: String, Sendable, Hashable, Codable, CaseIterable {
        /// ITU-T V.253 voice modems and U.S. Robotics/3Com, Silicon Labs: `+VCID`.
        case v253
        /// Rockwell/Conexant chip sets (and the many modems built on them): `#CID`.
        case rockwell
        /// Lucent/Agere chip sets: `%CCID`.
        case lucent
        /// 3GPP TS 27.007 cellular modems: `+CLIP`.
        case cellular
    }

    /// The family.
    public var family: Family
    /// The command line that enables formatted caller ID, e.g. `AT#CID=1`.
    public var command: String
    /// `+GCAP` entries that identify the family, e.g. `+VCID`, `+CGSM`.
    public var capabilities: [String]
    /// Text in the manufacturer, model or `ATI` lines that identifies the family.
    public var identityText: [String]
    /// Whether the command may only be sent to a modem identified as this family, because
    /// another modem could read it as something else (see the type's discussion).
    public var requiresIdentification: Bool

    /// An entry.
    public init(
        family: Family, command: String, capabilities: [String] = [], identityText: [String] = [],
        requiresIdentification: Bool = false
    ) {
        self.family = family
        self.command = command
        self.capabilities = capabilities
        self.identityText = identityText
        self.requiresIdentification = requiresIdentification
    }

    /// The command as an ``ATCommand``: validated as an init string
    /// (``ATCommand/init(initString:)``), or, for an entry that ``requiresIdentification``,
    /// only as a command line (``ATCommand/init(line:)``).
    public func atCommand() throws(ATCommandError) -> ATCommand {
        requiresIdentification ? try ATCommand(line: command) : try ATCommand(initString: command)
    }

    /// The known families, each once.
    public static let table: [CallerIDEnable] = [
        CallerIDEnable(
            family: .cellular, command: "AT+CLIP=1",
            capabilities: ["+CGSM", "+CLTE", "+CIS707-A"],
            identityText: ["QUECTEL", "SIMCOM", "SIERRA", "HUAWEI", "TELIT", "U-BLOX", "FIBOCOM", "ERICSSON", "NOVATEL"]),
        CallerIDEnable(
            family: .v253, command: "AT+VCID=1",
            capabilities: ["+VCID"],
            identityText: ["U.S. ROBOTICS", "U.S.ROBOTICS", "USROBOTICS", "3COM", "SILICON LAB", "ISOMODEM"]),
        CallerIDEnable(
            family: .rockwell, command: "AT#CID=1",
            capabilities: ["#CID"],
            identityText: ["CONEXANT", "ROCKWELL", "CNXT", "HSF", "HCF", "#CID"]),
        CallerIDEnable(
            family: .lucent, command: "AT%CCID=1",
            capabilities: ["%CCID"],
            identityText: ["LUCENT", "AGERE", "LT WIN", "HAYES MICROCOMPUTER", "%CCID"],
            requiresIdentification: true),
    ]

    /// The order to try after the families the identity names: the V.253 standard first,
    /// then the most common chip set, then cellular. Families whose entry
    /// ``requiresIdentification`` are left out of the fallback even if listed here.
    public static let fallbackOrder: [Family] = [.v253, .rockwell, .cellular]

    /// The entries to try for a modem, best first, each family at most once: those the
    /// identity names, then the fallbacks.
    ///
    /// - Parameters: the identity the probe gathered (`+GMI`, `+GMM`, `ATI` lines, `+GCAP`
    ///   entries); any may be empty.
    public static func candidates(
        manufacturer: String? = nil, model: String? = nil, information: [String] = [], capabilities: [String] = []
    ) -> [CallerIDEnable] {
        let offered = Set(capabilities.map { $0.trimmingBlanks().uppercased() })
        let text = ([manufacturer, model].compactMap { $0 } + information).joined(separator: "\n").uppercased()

        var ordered: [CallerIDEnable] = []
        func add(_ entry: CallerIDEnable) {
            if !ordered.contains(where: { $0.family == entry.family }) { ordered.append(entry) }
        }
        for entry in table where entry.capabilities.contains(where: { offered.contains($0.uppercased()) }) { add(entry) }
        for entry in table where entry.identityText.contains(where: { text.contains($0.uppercased()) }) { add(entry) }
        for family in fallbackOrder {
            if let entry = table.first(where: { $0.family == family }), !entry.requiresIdentification { add(entry) }
        }
        return ordered
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingBlanks() -> String {
        ASCII.string(ASCII.trimmed(Array(utf8)[...]))
    }
}
