import Hayes
import Serial
import SystemIO

/// What to dial (`RASDIALPARAMS`): a phonebook entry, or an entry-less call to a number.
///
/// JSON shape (flat): an entry dial is `{"entryName":"Work","phonebookPath":"…","phoneNumber":"…"}`
/// (path and number optional; the number overrides the entry's); an entry-less dial is
/// `{"phoneNumber":"5551234","device":"/dev/ttyUSB0"}` (device optional). A missing or empty
/// `entryName` means entry-less, as in RAS.
public struct RasDialParameters: Sendable, Hashable, Codable {
    /// The two kinds of dial.
    public enum Target: Sendable, Hashable {
        /// A phonebook entry. `phonebookPath` `nil` = search the default phonebooks;
        /// `phoneNumber` (when not `nil` or empty) is dialed as is instead of the entry's number.
        case entry(name: String, phonebookPath: String?, phoneNumber: String?)
        /// A call without an entry, with default settings. `device` is a port path (starts with
        /// `/`) or a modem name; `nil` = the first free modem.
        case number(phoneNumber: String, device: String?)
    }

    /// What to dial.
    public var target: Target

    /// Wraps a target.
    public init(target: Target) { self.target = target }

    /// Dials the phonebook entry `name`.
    public static func entry(_ name: String, phonebookPath: String? = nil, phoneNumber: String? = nil)
        -> RasDialParameters {
        RasDialParameters(target: .entry(name: name, phonebookPath: phonebookPath, phoneNumber: phoneNumber))
    }

    /// Dials `phoneNumber` without an entry.
    public static func number(_ phoneNumber: String, device: String? = nil) -> RasDialParameters {
        RasDialParameters(target: .number(phoneNumber: phoneNumber, device: device))
    }

    /// The name the connection is listed under: the entry name, or `"."` + the number for an
    /// entry-less dial (the RAS rule, e.g. `".5551234"`).
    public var entryName: String {
        switch target {
        case .entry(let name, _, _): name
        case .number(let phoneNumber, _): Self.entrylessName(for: phoneNumber)
        }
    }

    /// `"."` + `phoneNumber`: the name RAS gives an entry-less dial.
    public static func entrylessName(for phoneNumber: String) -> String { "." + phoneNumber }

    /// Checks the parameters before anything is opened.
    /// - Throws: 123 ``RasError/invalidName`` for a bad entry name; 87
    ///   ``RasError/invalidParameter`` for an entry-less dial with an empty number.
    public func validate() throws(RasError) {
        switch target {
        case .entry(let name, _, _):
            try PhonebookEntry.validateName(name)
        case .number(let phoneNumber, _):
            if phoneNumber.trimmingSpaces.isEmpty {
                throw RasError.invalidParameter.with(detail: "a dial without an entry needs a phone number")
            }
        }
    }

    /// Validates the parameters and works out what to dial: loads the entry (from
    /// `phonebookPath`, or the first phonebook on `searchPath` that has it) or takes the
    /// defaults for an entry-less dial.
    /// `requester` is the user a phonebook the parameters name is read for (see
    /// ``Phonebook/load(from:requester:)``); the default phonebooks are read as this process.
    /// - Throws: the errors of ``validate()``, of ``PhonebookSearchPath/locateEntry(named:phonebookPath:requester:)``
    ///   and of ``RasDialSettings/init(entry:phoneNumberOverride:)``.
    public func resolve(
        searchPath: PhonebookSearchPath = PhonebookSearchPath(), requester: PeerCredentials? = nil
    ) throws(RasError) -> RasDialPlan {
        try validate()
        switch target {
        case .entry(let name, let path, let override):
            let located = try searchPath.locateEntry(named: name, phonebookPath: path, requester: requester)
            return RasDialPlan(
                entryName: located.entry.name, phonebookPath: located.phonebookPath,
                settings: try RasDialSettings(entry: located.entry, phoneNumberOverride: override))
        case .number(let phoneNumber, let device):
            let isPath = device.map { $0.hasPrefix("/") || NetworkPortAddress.isNetworkAddress($0) } ?? false
            return RasDialPlan(
                entryName: entryName, phonebookPath: nil,
                settings: RasDialSettings(
                    phoneNumber: phoneNumber.trimmingSpaces, port: isPath ? device : nil,
                    device: isPath ? nil : device))
        }
    }

    private enum CodingKeys: String, CodingKey { case entryName, phonebookPath, phoneNumber, device }

    /// Decodes the flat JSON shape described on the type.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decodeIfPresent(String.self, forKey: .entryName) ?? ""
        let number = try container.decodeIfPresent(String.self, forKey: .phoneNumber)
        if name.isEmpty {
            target = .number(phoneNumber: number ?? "",
                             device: try container.decodeIfPresent(String.self, forKey: .device))
        } else {
            target = .entry(name: name,
                            phonebookPath: try container.decodeIfPresent(String.self, forKey: .phonebookPath),
                            phoneNumber: number)
        }
    }

    /// Encodes the flat JSON shape described on the type.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch target {
        case .entry(let name, let path, let number):
            try container.encode(name, forKey: .entryName)
            try container.encodeIfPresent(path, forKey: .phonebookPath)
            try container.encodeIfPresent(number, forKey: .phoneNumber)
        case .number(let number, let device):
            try container.encode(number, forKey: .phoneNumber)
            try container.encodeIfPresent(device, forKey: .device)
        }
    }
}

/// A dial worked out from ``RasDialParameters``: the listed name, where the entry came from,
/// and the settings the connection manager uses.
public struct RasDialPlan: Sendable, Equatable {
    /// The name the connection is listed under (the entry's own spelling, or `"."` + number).
    public var entryName: String
    /// The phonebook the entry came from; `nil` for an entry-less dial.
    public var phonebookPath: String?
    /// How to dial.
    public var settings: RasDialSettings

    /// Makes a plan.
    public init(entryName: String, phonebookPath: String?, settings: RasDialSettings) {
        self.entryName = entryName
        self.phonebookPath = phonebookPath
        self.settings = settings
    }
}

/// Everything the connection manager needs to dial, with the defaults applied.
public struct RasDialSettings: Sendable, Equatable {
    /// The dial prefix when the entry has none: `ATDT` (tone).
    public static let defaultDialPrefix = "ATDT"
    /// The init string when the entry has none: `ModemSession.defaultInitString` (Hayes).
    public static let defaultInitString = ModemSession.defaultInitString
    /// The prefix before a country code when the entry has none: `00`.
    public static let defaultInternationalPrefix = "00"
    /// How long to wait for the dial's result by default: 60 s (above the usual S7 of 50 s).
    public static let defaultDialTimeout = Duration.seconds(60)
    /// How long to wait for each init command's answer by default: 5 s.
    public static let defaultInitTimeout = Duration.seconds(5)
    /// The default pause before a redial: 60 s.
    public static let defaultRedialPause = Duration.seconds(60)
    /// The default longest pause between reconnects: 600 s.
    public static let defaultReconnectMaximum = Duration.seconds(600)

    /// The number to dial (dialing rules applied, or the caller's override as is).
    public var phoneNumber: String
    /// The port path, when known (`Port=`, or the device of an entry-less dial that starts with `/`).
    public var port: String?
    /// The modem's name, when known (`Device=`, or the device of an entry-less dial).
    public var device: String?
    /// The port speed (`ConnectBPS`), `nil` = the manager's default.
    public var connectBPS: Int?
    /// RTS/CTS flow control (`HwFlowControl`), default off.
    public var hwFlowControl: Bool
    /// Init command lines sent in order (`InitString`, default ``defaultInitString``).
    public var initStrings: [String]
    /// The dial command before the number (`DialPrefix`, default ``defaultDialPrefix``).
    public var dialPrefix: String
    /// The deadline for the dial's result (`DialTimeoutSeconds`).
    public var dialTimeout: Duration
    /// The deadline for each init command (`InitTimeoutSeconds`).
    public var initTimeout: Duration
    /// Redials after a busy line, no answer or a dial timeout (`RedialAttempts`, default 0).
    public var redialAttempts: Int
    /// The pause before each redial (`RedialSeconds`).
    public var redialPause: Duration
    /// Hang up after this much idle time; `nil` = never (`IdleDisconnectSeconds` absent, 0 or 4294967295).
    public var idleDisconnect: Duration?
    /// The silence before `+++` when hanging up (`HangUpGuardMilliseconds`); `nil` = the
    /// modem's own guard time (S12, read at init) plus a margin.
    public var hangUpGuard: Duration?
    /// The pause after each result before the next command line (`InterCommandMilliseconds`);
    /// `nil` = the manager's timing (none by default).
    public var interCommand: Duration?
    /// PPP after `CONNECT` (`Framing=PPP`); `nil` = the data path is left to any program.
    public var ppp: PPPSettings?
    /// Reconnect when the link drops after Connected (`RedialOnLinkFailure=1`, pauses from
    /// `RedialSeconds` doubling up to `RedialMaxSeconds`); `nil` = a drop ends the connection.
    public var reconnect: DialMachine.ReconnectPolicy?

    /// The modem timing of a connection with these settings: `base` (the manager's) with
    /// what the entry sets — the guard before `+++`, the pause between commands and the
    /// deadline of each init command.
    public func modemTiming(base: ModemTiming) -> ModemTiming {
        var timing = base
        if let hangUpGuard { timing.escapeGuard = hangUpGuard }
        if let interCommand { timing.interCommand = interCommand }
        return timing
    }

    /// Whether `port` names a modem on a terminal server (`rfc2217://HOST:PORT`,
    /// `tcp://HOST:PORT`) rather than a device path or name.
    public static func isNetworkPort(_ port: String) -> Bool { NetworkPortAddress.isNetworkAddress(port) }

    /// What is wrong with a network port address, or `nil` when it is well formed.
    public static func networkPortProblem(_ port: String) -> String? { NetworkPortAddress.problem(port) }

    /// The full dial command line without its CR, e.g. `ATDT5551234`.
    public var dialCommand: String { dialPrefix + phoneNumber }

    /// Default settings for dialing `phoneNumber` (an entry-less dial).
    public init(phoneNumber: String, port: String? = nil, device: String? = nil) {
        self.phoneNumber = phoneNumber
        self.port = port
        self.device = device
        connectBPS = nil
        hwFlowControl = false
        initStrings = [Self.defaultInitString]
        dialPrefix = Self.defaultDialPrefix
        dialTimeout = Self.defaultDialTimeout
        initTimeout = Self.defaultInitTimeout
        redialAttempts = 0
        redialPause = Self.defaultRedialPause
        idleDisconnect = nil
        hangUpGuard = nil
        interCommand = nil
        ppp = nil
        reconnect = nil
    }

    /// The settings of a phonebook entry, defaults filling the gaps.
    /// - Parameter entry: the phonebook entry.
    /// - Parameter phoneNumberOverride: dialed as is (no dialing rules) when not `nil` or empty.
    /// - Throws: 749 ``RasError/badPhoneNumber`` when there is neither an override nor a `PhoneNumber`.
    public init(entry: PhonebookEntry, phoneNumberOverride: String? = nil) throws(RasError) {
        let override = phoneNumberOverride?.trimmingSpaces
        guard let number = (override?.isEmpty == false ? override : nil) ?? entry.dialableNumber else {
            throw RasError.badPhoneNumber.with(detail: "entry '\(entry.name)' has no PhoneNumber")
        }
        self.init(phoneNumber: number, port: entry.port, device: entry.device)
        apply(entry)
    }

    /// Takes every setting but the number from `entry`.
    mutating func apply(_ entry: PhonebookEntry) {
        connectBPS = entry.connectBPS
        hwFlowControl = entry.hwFlowControl ?? false
        if !entry.initStrings.isEmpty { initStrings = entry.initStrings }
        dialPrefix = entry.dialPrefix ?? Self.defaultDialPrefix
        if let seconds = entry.dialTimeoutSeconds { dialTimeout = .seconds(seconds) }
        if let seconds = entry.initTimeoutSeconds { initTimeout = .seconds(seconds) }
        redialAttempts = entry.redialAttempts ?? 0
        if let seconds = entry.redialSeconds { redialPause = .seconds(seconds) }
        if let seconds = entry.idleDisconnectSeconds, seconds != 0, seconds != Int(UInt32.max) {
            idleDisconnect = .seconds(seconds)
        }
        hangUpGuard = entry.hangUpGuardMilliseconds.map { .milliseconds($0) }
        interCommand = entry.interCommandMilliseconds.map { .milliseconds($0) }
        if entry.redialOnLinkFailure {
            reconnect = DialMachine.ReconnectPolicy(
                firstPause: redialPause, maximumPause: entry.redialMaxSeconds.map { .seconds($0) } ?? Self.defaultReconnectMaximum)
        }
        if entry.runsPPP {
            ppp = PPPSettings(
                pppdPath: entry.pppdPath ?? PPPSettings.defaultPppdPath, options: entry.pppdOptions,
                user: entry.pppUser, passwordFile: entry.passwordFile)
        }
    }
}
