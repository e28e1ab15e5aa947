import Serial
import Hayes

/// The name of a phonebook setting (the part before `=`).
///
/// Keys compare without regard to case (`phonenumber` finds `PhoneNumber`), with one
/// exception taken from real Windows phonebooks, which hold both `Device=<modem name>` and the
/// link marker `DEVICE=modem`: the all-capitals spelling `DEVICE` only equals itself.
public struct PhonebookKey: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The key as written, e.g. `"PhoneNumber"`.
    public let rawValue: String

    /// Wraps a key name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps a key name given as a literal.
    public init(stringLiteral value: String) { rawValue = value }

    /// The key as written.
    public var description: String { rawValue }

    /// Case-insensitive, except that `DEVICE` (the link marker) only equals `DEVICE`.
    public static func == (lhs: PhonebookKey, rhs: PhonebookKey) -> Bool {
        if lhs.rawValue == rhs.rawValue { return true }
        if lhs.rawValue == Self.deviceType.rawValue || rhs.rawValue == Self.deviceType.rawValue { return false }
        return lhs.rawValue.lowercased() == rhs.rawValue.lowercased()
    }

    /// Hashes the lower-cased name, consistent with `==`.
    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue.lowercased()) }

    // MARK: RAS keys

    /// `PhoneNumber`: the number to dial; repeated keys are alternates, the first one is dialed.
    public static let phoneNumber: PhonebookKey = "PhoneNumber"
    /// `AreaCode`: used when ``useCountryAndAreaCodes`` (or ``useDialingRules``) is 1.
    public static let areaCode: PhonebookKey = "AreaCode"
    /// `CountryCode`: the country calling code (e.g. 39), used with the dialing rules.
    public static let countryCode: PhonebookKey = "CountryCode"
    /// `UseCountryAndAreaCodes`: 1 = build the number from country code, area code and number (NT4 spelling).
    public static let useCountryAndAreaCodes: PhonebookKey = "UseCountryAndAreaCodes"
    /// `UseDialingRules`: the modern spelling of ``useCountryAndAreaCodes``.
    public static let useDialingRules: PhonebookKey = "UseDialingRules"
    /// `MEDIA`: starts a link subsection (`serial` or `rastapi`).
    public static let media: PhonebookKey = "MEDIA"
    /// `DEVICE`: starts the device part of a link (`modem`). Matches only when spelled in capitals.
    public static let deviceType: PhonebookKey = "DEVICE"
    /// `Device`: the modem's name.
    public static let device: PhonebookKey = "Device"
    /// `Port`: the serial port, a tty path such as `/dev/ttyUSB0` or `/dev/serial/by-id/…`.
    public static let port: PhonebookKey = "Port"
    /// `ConnectBPS`: the port (DTE) speed in bits per second.
    public static let connectBPS: PhonebookKey = "ConnectBPS"
    /// `HwFlowControl`: 1 = RTS/CTS flow control.
    public static let hwFlowControl: PhonebookKey = "HwFlowControl"
    /// `RedialAttempts`: how many times to redial after a busy line or no answer.
    public static let redialAttempts: PhonebookKey = "RedialAttempts"
    /// `RedialSeconds`: the pause before each redial.
    public static let redialSeconds: PhonebookKey = "RedialSeconds"
    /// `RedialOnLinkFailure`: 1 = re-establish the link when it drops after Connected.
    public static let redialOnLinkFailure: PhonebookKey = "RedialOnLinkFailure"
    /// `IdleDisconnectSeconds`: hang up after this much idle time (0 = default, 4294967295 = never).
    public static let idleDisconnectSeconds: PhonebookKey = "IdleDisconnectSeconds"

    // MARK: swift-ras keys

    /// `InitString` (swift-ras): a modem initialisation command line; repeated keys are sent in order.
    public static let initString: PhonebookKey = "InitString"
    /// `DialPrefix` (swift-ras): the dial command before the number, `ATDT` (default) or `ATDP`.
    public static let dialPrefix: PhonebookKey = "DialPrefix"
    /// `InternationalPrefix` (swift-ras): dialed before the country code (default `00`).
    public static let internationalPrefix: PhonebookKey = "InternationalPrefix"
    /// `DialTimeoutSeconds` (swift-ras): how long to wait for the dial's result (default 60).
    public static let dialTimeoutSeconds: PhonebookKey = "DialTimeoutSeconds"
    /// `InitTimeoutSeconds` (swift-ras): how long to wait for each init command's answer (default 5).
    public static let initTimeoutSeconds: PhonebookKey = "InitTimeoutSeconds"
    /// `HangUpGuardMilliseconds` (swift-ras): the silence before `+++` when hanging up
    /// (default: the modem's S12, read at init, plus 50 ms).
    public static let hangUpGuardMilliseconds: PhonebookKey = "HangUpGuardMilliseconds"
    /// `RedialMaxSeconds` (swift-ras): the longest pause between reconnects (default 600).
    public static let redialMaxSeconds: PhonebookKey = "RedialMaxSeconds"
    /// `InterCommandMilliseconds` (swift-ras): the pause after each result before the next
    /// command line (default none: a modem that loses commands teaches its own pause).
    public static let interCommandMilliseconds: PhonebookKey = "InterCommandMilliseconds"

    /// `Answer` (swift-ras): 1 = a line that answers calls (`rasdial ENTRY --listen`,
    /// `rasmand --answer ENTRY`) instead of dialing.
    public static let answer: PhonebookKey = "Answer"
    /// `AnswerAfterRings` (swift-ras): answer on this ring (default 1).
    public static let answerAfterRings: PhonebookKey = "AnswerAfterRings"
    /// `AllowCallers` (swift-ras): the callers a listening line answers — number patterns
    /// (`555*`, `+4930?????`), `private`, `unknown`, separated by commas or spaces; repeated
    /// keys add to them. Without it every caller not rejected is answered.
    public static let allowCallers: PhonebookKey = "AllowCallers"
    /// `RejectCallers` (swift-ras): callers never answered, in the form of ``allowCallers``.
    public static let rejectCallers: PhonebookKey = "RejectCallers"
    /// `CallerIDInit` (swift-ras): the command that turns caller ID on (default: chosen from
    /// the modem's identity: `AT+VCID=1`, `AT#CID=1`, `AT%CCID=1` or `AT+CLIP=1`); empty
    /// value = not set, `none` = do not turn caller ID on.
    public static let callerIDInit: PhonebookKey = "CallerIDInit"
    /// `IncomingRetentionSeconds` (swift-ras): how long an ended incoming connection stays
    /// listed (Disconnected, with its error) unless hung up first (default 60).
    public static let incomingRetentionSeconds: PhonebookKey = "IncomingRetentionSeconds"
    /// `ListenRecheckSeconds` (swift-ras): how often a listening line's idle modem is
    /// initialised again, to notice a modem that reset itself (default 300).
    public static let listenRecheckSeconds: PhonebookKey = "ListenRecheckSeconds"
    /// `ListenRetrySeconds` (swift-ras): the pause before a listening line tries a modem that
    /// stopped answering (or a port that went away) again (default 10).
    public static let listenRetrySeconds: PhonebookKey = "ListenRetrySeconds"

    /// `Framing` (swift-ras): `PPP` runs pppd on the data path after `CONNECT`; `None`
    /// (default) leaves the data path to whichever program opens it.
    public static let framing: PhonebookKey = "Framing"
    /// `PppdPath` (swift-ras): the pppd to run (default `/usr/sbin/pppd`).
    public static let pppdPath: PhonebookKey = "PppdPath"
    /// `PppdOptions` (swift-ras): more pppd options, separated by spaces (`noipdefault
    /// usepeerdns defaultroute`); repeated keys add to them.
    public static let pppdOptions: PhonebookKey = "PppdOptions"
    /// `User` (swift-ras): the PPP user name (pppd's `user`).
    public static let user: PhonebookKey = "User"
    /// `PasswordFile` (swift-ras): a file whose first line is the PPP password; it must be
    /// readable only by its owner, and is read by the daemon when pppd starts.
    public static let passwordFile: PhonebookKey = "PasswordFile"

    /// Keys whose value must be a decimal number from 0 to 4294967295 (a `DWORD`), or empty.
    public static let numericKeys: Set<PhonebookKey> = [
        .countryCode, .useCountryAndAreaCodes, .useDialingRules, .connectBPS, .hwFlowControl,
        .redialAttempts, .redialSeconds, .idleDisconnectSeconds, .dialTimeoutSeconds,
        .initTimeoutSeconds, .hangUpGuardMilliseconds, .interCommandMilliseconds, .redialOnLinkFailure,
        .redialMaxSeconds, .answer, .answerAfterRings, .incomingRetentionSeconds, .listenRecheckSeconds,
        .listenRetrySeconds,
    ]

    /// True when the value of this key must be a number (see ``numericKeys``).
    public var isNumeric: Bool { Self.numericKeys.contains(self) }

    /// What is wrong with `value` for this key, or `nil` when it is acceptable.
    /// An empty value is always acceptable and means "not set".
    func problem(with value: String) -> String? {
        if value.contains(where: { $0.isNewline || $0 == "\0" }) {
            return "'\(rawValue)' must not contain line breaks or NUL characters"
        }
        guard !value.isEmpty else { return nil }
        if isNumeric {
            guard value.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                return "'\(rawValue)' must be a number, not '\(value)'"
            }
            guard let number = UInt64(value), number <= UInt64(UInt32.max) else {
                return "'\(rawValue)' is too large: \(value) (at most 4294967295)"
            }
            return nil
        }
        switch self {
        case .dialPrefix:
            return Self.dialPrefixProblem(value)
        case .initString where !value.uppercased().hasPrefix("AT"):
            return "'InitString' must be an AT command, not '\(value)'"
        case .initString:
            return Self.initStringProblem(value)
        case .internationalPrefix where !value.allSatisfy({ $0.isASCII && $0.isNumber }):
            return "'InternationalPrefix' must be digits, not '\(value)'"
        case .framing where !["ppp", "none"].contains(value.lowercased()):
            return "'Framing' must be PPP or None, not '\(value)'"
        case .port where NetworkPortAddress.isNetworkAddress(value):
            return NetworkPortAddress.problem(value).map { "'Port' \(value): \($0)" }
        case .pppdPath where !value.hasPrefix("/"):
            return "'PppdPath' must be an absolute path, not '\(value)'"
        case .passwordFile where !value.hasPrefix("/"):
            return "'PasswordFile' must be an absolute path, not '\(value)'"
        case .pppdOptions:
            return PPPSettings.optionsProblem(value)
        case .allowCallers, .rejectCallers:
            return CallerPolicy.patternsProblem(value, key: rawValue)
        case .callerIDInit where value.lowercased() == "none":
            return nil
        case .callerIDInit:
            return Self.initStringProblem(value).map { "CallerIDInit" + $0.dropFirst("InitString".count) }
        default:
            return nil
        }
    }

    /// What is wrong with `value` as an init string (see `ATCommand.init(initString:)`): it
    /// must be one AT command line that only configures the modem — no dial, answer, going
    /// online or off-hook, no `+++`, no line break. `nil` when it is acceptable.
    static func initStringProblem(_ value: String) -> String? {
        do throws(ATCommandError) {
            _ = try ATCommand(initString: value)
            return nil
        } catch {
            let shown = value.count <= 40 ? value : String(value.prefix(40)) + "…"
            return "InitString '\(shown)': \(error)"
        }
    }

    /// What is wrong with `value` as a dial prefix, or `nil` when it is acceptable: `ATD`,
    /// then dial modifiers and digits a dial string may hold (`ATDT`, `ATDP`, `ATDT9,W`), no
    /// `;` (it would end the dial before the number). Positions count in `value`.
    static func dialPrefixProblem(_ value: String) -> String? {
        guard value.uppercased().hasPrefix("ATD") else {
            return "'DialPrefix' must start with ATD (ATDT or ATDP), not '\(value)'"
        }
        let modifiers = String(value.unicodeScalars.dropFirst(3))
        do throws(DialStringError) {
            let dialString = try DialString(modifiers)
            if dialString.returnsToCommandMode {
                let position = 3 + (Array(modifiers.unicodeScalars).lastIndex(of: ";") ?? 0) + 1
                return "DialPrefix '\(value)': ';' at position \(position) would end the dial before the number"
            }
        } catch .empty, .noDigits {
            if let index = Array(modifiers.unicodeScalars).firstIndex(of: ";") {
                return "DialPrefix '\(value)': ';' at position \(3 + index + 1) would end the dial before the number"
            }
        } catch {
            return "DialPrefix '\(value)': \(error.shiftingPositions(by: 3))"
        }
        return nil
    }

    /// What is wrong with this key's name, or `nil` when it can be written to a phonebook.
    var nameProblem: String? {
        let trimmed = rawValue.trimmingSpaces
        if trimmed.isEmpty { return "a key must not be empty" }
        if trimmed != rawValue { return "key '\(rawValue)' must not start or end with spaces" }
        if rawValue.contains(where: { $0.isNewline || $0 == "\0" || $0 == "=" }) {
            return "key '\(rawValue)' must not contain '=', line breaks or NUL characters"
        }
        if let first = rawValue.first, first == "[" || first == ";" || first == "#" {
            return "key '\(rawValue)' must not start with '\(first)'"
        }
        return nil
    }
}
