/// One line of a phonebook, kept with its original text so that a rewrite changes only
/// the lines that were edited.
public struct PhonebookLine: Sendable, Hashable {
    /// What a line means.
    public enum Content: Sendable, Hashable {
        /// An empty or whitespace-only line.
        case blank
        /// A comment: the first non-blank character is `;` or `#`. The payload is the whole line.
        case comment(String)
        /// A `key=value` setting; key and value are trimmed of spaces and tabs.
        case setting(key: PhonebookKey, value: String)
    }

    /// What the line means.
    public let content: Content
    /// The line exactly as it is written to the file (without its line ending).
    public let text: String

    init(content: Content, text: String) {
        self.content = content
        self.text = text
    }

    /// A `key=value` line. The caller checks key and value.
    static func setting(_ key: PhonebookKey, _ value: String) -> PhonebookLine {
        PhonebookLine(content: .setting(key: key, value: value), text: "\(key.rawValue)=\(value)")
    }

    /// The key, when this line is a setting.
    var key: PhonebookKey? {
        if case .setting(let key, _) = content { return key }
        return nil
    }
}

/// One phonebook entry: a `[Name]` section and its lines in file order.
///
/// Keys may repeat (alternate `PhoneNumber`s, several `InitString`s, one `MEDIA`/`DEVICE` block
/// per link), so the entry keeps an ordered list of lines; comments, blank lines and keys this
/// module does not know are kept as they are. The typed accessors read the **first** occurrence
/// of their key and treat an empty value as not set. Numeric values are checked when a file is
/// loaded (625) and when set (87), so the numeric accessors never see text.
public struct PhonebookEntry: Sendable, Equatable {
    /// The entry name (the section name without brackets).
    public internal(set) var name: String
    /// The lines after the `[Name]` header, up to the next section, in file order.
    public internal(set) var lines: [PhonebookLine]
    /// The header line as written (`[Name]`).
    var headerText: String

    /// Makes a new entry named `name` with `settings` in order.
    ///
    /// - Throws: 123 ``RasError/invalidName`` for a bad name (see ``validateName(_:)``);
    ///   87 ``RasError/invalidParameter`` for a bad key or value.
    public init(name: String, settings: KeyValuePairs<PhonebookKey, String> = [:]) throws(RasError) {
        try Self.validateName(name)
        self.init(name: name, headerText: "[\(name)]", lines: [])
        for (key, value) in settings { try append(key, value) }
    }

    init(name: String, headerText: String, lines: [PhonebookLine]) {
        self.name = name
        self.headerText = headerText
        self.lines = lines
    }

    // MARK: Names

    /// Checks an entry name against the RAS rules (RAS-REFERENCE §5) and ours.
    ///
    /// RAS: at least one letter or digit; none of `| > < ? * \ / :`; no leading `.` (a dot
    /// marks entry-less dials). Ours, so that the name survives a phonebook file: at most 256
    /// characters, no control characters, no `[` `]`, no leading or trailing spaces.
    /// - Throws: 123 ``RasError/invalidName`` with a detail that says which rule failed.
    public static func validateName(_ name: String) throws(RasError) {
        func invalid(_ why: String) -> RasError { RasError.invalidName.with(detail: "'\(name)': \(why)") }
        guard name.contains(where: { $0.isLetter || $0.isNumber }) else {
            throw invalid("needs at least one letter or digit")
        }
        if let bad = name.first(where: { "|><?*\\/:".contains($0) }) {
            throw invalid("must not contain '\(bad)'")
        }
        if name.hasPrefix(".") { throw invalid("must not start with '.'") }
        if name.count > 256 { throw invalid("is longer than 256 characters") }
        if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw invalid("must not contain control characters")
        }
        if name.contains("[") || name.contains("]") { throw invalid("must not contain '[' or ']'") }
        if name.trimmingSpaces != name { throw invalid("must not start or end with spaces") }
    }

    /// True when `name` passes ``validateName(_:)``.
    public static func isValidName(_ name: String) -> Bool {
        (try? validateName(name)) != nil
    }

    /// Whether two entry names denote the same entry: the whole name, case ignored.
    public static func namesMatch(_ lhs: String, _ rhs: String) -> Bool {
        lhs.lowercased() == rhs.lowercased()
    }

    // MARK: Raw access

    /// The first value of `key`, exactly as written (possibly empty); `nil` when the key is absent.
    public func value(for key: PhonebookKey) -> String? {
        for line in lines {
            if case .setting(let lineKey, let value) = line.content, lineKey == key { return value }
        }
        return nil
    }

    /// Every value of `key`, in file order.
    public func values(for key: PhonebookKey) -> [String] {
        lines.compactMap { line in
            if case .setting(let lineKey, let value) = line.content, lineKey == key { return value }
            return nil
        }
    }

    /// Sets the first occurrence of `key` to `value` (other occurrences stay); adds the key
    /// after the last setting when it is absent.
    /// - Throws: 87 ``RasError/invalidParameter`` for a bad key name or value (a non-number
    ///   for a numeric key, a line break…).
    public mutating func set(_ key: PhonebookKey, _ value: String) throws(RasError) {
        try Self.check(key, value)
        if let index = lines.firstIndex(where: { $0.key == key }), let existing = lines[index].key {
            lines[index] = .setting(existing, value)
        } else {
            insertAfterLastSetting(.setting(key, value))
        }
    }

    /// Sets a numeric key to `value` in decimal, like the `String` overload.
    /// - Throws: 87 when `value` is negative or above 4294967295.
    public mutating func set(_ key: PhonebookKey, _ value: Int) throws(RasError) {
        try set(key, String(value))
    }

    /// Sets a flag key to `1` or `0`.
    public mutating func set(_ key: PhonebookKey, _ value: Bool) throws(RasError) {
        try set(key, value ? "1" : "0")
    }

    /// Adds `key=value` after the last setting, keeping existing occurrences (an alternate number).
    /// - Throws: 87 ``RasError/invalidParameter`` for a bad key name or value.
    public mutating func append(_ key: PhonebookKey, _ value: String) throws(RasError) {
        try Self.check(key, value)
        insertAfterLastSetting(.setting(key, value))
    }

    /// Removes every occurrence of `key`.
    public mutating func remove(_ key: PhonebookKey) {
        lines.removeAll { $0.key == key }
    }

    private static func check(_ key: PhonebookKey, _ value: String) throws(RasError) {
        if let problem = key.nameProblem ?? key.problem(with: value) {
            throw RasError.invalidParameter.with(detail: problem)
        }
    }

    private mutating func insertAfterLastSetting(_ line: PhonebookLine) {
        let index = lines.lastIndex(where: { $0.key != nil }).map { $0 + 1 } ?? 0
        lines.insert(line, at: index)
    }

    // MARK: Typed accessors (first occurrence; empty = not set)

    private func text(_ key: PhonebookKey) -> String? {
        guard let value = value(for: key), !value.isEmpty else { return nil }
        return value
    }

    private func number(_ key: PhonebookKey) -> Int? { text(key).flatMap { Int($0) } }

    /// `PhoneNumber`: the first (primary) number as written.
    public var phoneNumber: String? { text(.phoneNumber) }
    /// Every non-empty `PhoneNumber`, primary first, then the alternates.
    public var phoneNumbers: [String] { values(for: .phoneNumber).filter { !$0.isEmpty } }
    /// `AreaCode`.
    public var areaCode: String? { text(.areaCode) }
    /// `CountryCode`, e.g. 39; 0 counts as not set.
    public var countryCode: Int? { number(.countryCode).flatMap { $0 == 0 ? nil : $0 } }
    /// True when `UseCountryAndAreaCodes` or `UseDialingRules` is non-zero.
    public var useCountryAndAreaCodes: Bool {
        (number(.useCountryAndAreaCodes) ?? 0) != 0 || (number(.useDialingRules) ?? 0) != 0
    }
    /// `MEDIA`, e.g. `serial`.
    public var media: String? { text(.media) }
    /// `DEVICE` (capitals), the link's device type, e.g. `modem`.
    public var deviceType: String? { text(.deviceType) }
    /// `Device`: the modem's name.
    public var device: String? { text(.device) }
    /// `Port`: a tty path such as `/dev/ttyUSB0` or `/dev/serial/by-id/…` (Windows files say `COM1`).
    public var port: String? { text(.port) }
    /// `ConnectBPS`: the port speed in bits per second.
    public var connectBPS: Int? { number(.connectBPS) }
    /// `HwFlowControl`: RTS/CTS flow control on or off; `nil` when not set.
    public var hwFlowControl: Bool? { number(.hwFlowControl).map { $0 != 0 } }
    /// `RedialAttempts`: redials after a busy line, no answer or a dial timeout.
    public var redialAttempts: Int? { number(.redialAttempts) }
    /// `RedialSeconds`: the pause before each redial.
    public var redialSeconds: Int? { number(.redialSeconds) }
    /// `RedialOnLinkFailure`: true for 1.
    public var redialOnLinkFailure: Bool { (number(.redialOnLinkFailure) ?? 0) != 0 }
    /// `RedialMaxSeconds`.
    public var redialMaxSeconds: Int? { number(.redialMaxSeconds) }
    /// `IdleDisconnectSeconds` (0 = default, 4294967295 = never).
    public var idleDisconnectSeconds: Int? { number(.idleDisconnectSeconds) }
    /// Every non-empty `InitString`, in the order they are sent.
    public var initStrings: [String] { values(for: .initString).filter { !$0.isEmpty } }
    /// `DialPrefix`, e.g. `ATDP`.
    public var dialPrefix: String? { text(.dialPrefix) }
    /// `InternationalPrefix`, e.g. `011`.
    public var internationalPrefix: String? { text(.internationalPrefix) }
    /// `DialTimeoutSeconds`.
    public var dialTimeoutSeconds: Int? { number(.dialTimeoutSeconds) }
    /// `InitTimeoutSeconds`.
    public var initTimeoutSeconds: Int? { number(.initTimeoutSeconds) }
    /// `HangUpGuardMilliseconds`.
    public var hangUpGuardMilliseconds: Int? { number(.hangUpGuardMilliseconds) }
    /// `InterCommandMilliseconds`.
    public var interCommandMilliseconds: Int? { number(.interCommandMilliseconds) }
    /// `Framing`: true for `PPP`.
    public var runsPPP: Bool { text(.framing)?.lowercased() == "ppp" }
    /// `PppdPath`.
    public var pppdPath: String? { text(.pppdPath) }
    /// Every `PppdOptions` value split at spaces, in order.
    public var pppdOptions: [String] {
        values(for: .pppdOptions).flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }
    }
    /// `User`: the PPP user name.
    public var pppUser: String? { text(.user) }
    /// `PasswordFile`: where the PPP password is.
    public var passwordFile: String? { text(.passwordFile) }

    /// `Answer`: true for 1 (a line that answers calls).
    public var answersCalls: Bool { (number(.answer) ?? 0) != 0 }
    /// `AnswerAfterRings`.
    public var answerAfterRings: Int? { number(.answerAfterRings) }
    /// Every non-empty `AllowCallers` value, joined with commas.
    public var allowCallers: String? { joined(.allowCallers) }
    /// Every non-empty `RejectCallers` value, joined with commas.
    public var rejectCallers: String? { joined(.rejectCallers) }
    /// `CallerIDInit`.
    public var callerIDInit: String? { text(.callerIDInit) }
    /// `IncomingRetentionSeconds`.
    public var incomingRetentionSeconds: Int? { number(.incomingRetentionSeconds) }
    /// `ListenRecheckSeconds`.
    public var listenRecheckSeconds: Int? { number(.listenRecheckSeconds) }
    /// `ListenRetrySeconds`.
    public var listenRetrySeconds: Int? { number(.listenRetrySeconds) }

    private func joined(_ key: PhonebookKey) -> String? {
        let values = values(for: key).filter { !$0.isEmpty }
        return values.isEmpty ? nil : values.joined(separator: ",")
    }

    /// The number to dial, or `nil` when the entry has no `PhoneNumber`.
    ///
    /// With `UseCountryAndAreaCodes`/`UseDialingRules` off: `PhoneNumber` as written. On: the
    /// concatenation of `InternationalPrefix` (default `00`) + `CountryCode` (when set and not
    /// 0), then `AreaCode` (when set, as written: give it without the trunk `0` if the country
    /// drops it after a country code), then `PhoneNumber`. No separators are added.
    public var dialableNumber: String? {
        guard let number = phoneNumber else { return nil }
        guard useCountryAndAreaCodes else { return number }
        var result = ""
        if let country = countryCode {
            result += (internationalPrefix ?? RasDialSettings.defaultInternationalPrefix) + String(country)
        }
        result += areaCode ?? ""
        return result + number
    }
}
