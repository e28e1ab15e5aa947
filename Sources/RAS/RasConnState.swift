/// A RAS connection state (`RASCONNSTATE`), with the number Windows uses.
///
/// `Codable` encodes the number; ``name`` gives the RAS name without its `RASCS_` prefix
/// (`"OpenPort"`, `"Connected"`) and ``description`` gives both, e.g. `"Connected (8192)"`.
/// A plain modem dial walks ``openPort`` → ``portOpened`` → ``connectDevice`` →
/// ``deviceConnected`` → ``allDevicesConnected`` → ``connected``; failures end in
/// ``disconnected`` with an error.
public enum RasConnState: UInt32, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// `RASCS_OpenPort` (0): about to open the port.
    case openPort = 0
    /// `RASCS_PortOpened` (1): the port is open.
    case portOpened = 1
    /// `RASCS_ConnectDevice` (2): about to work a device (initialise the modem and dial).
    case connectDevice = 2
    /// `RASCS_DeviceConnected` (3): the device is connected.
    case deviceConnected = 3
    /// `RASCS_AllDevicesConnected` (4): the device chain is up; the physical link exists.
    case allDevicesConnected = 4
    /// `RASCS_Authenticate` (5): authentication is starting.
    case authenticate = 5
    /// `RASCS_AuthNotify` (6): an authentication event.
    case authNotify = 6
    /// `RASCS_AuthRetry` (7): retrying with new credentials.
    case authRetry = 7
    /// `RASCS_AuthCallback` (8): the server wants a callback number.
    case authCallback = 8
    /// `RASCS_AuthChangePassword` (9): the client asked to change the password.
    case authChangePassword = 9
    /// `RASCS_AuthProject` (10): the projection phase is starting.
    case authProject = 10
    /// `RASCS_AuthLinkSpeed` (11): measuring the link speed.
    case authLinkSpeed = 11
    /// `RASCS_AuthAck` (12): authentication acknowledged.
    case authAck = 12
    /// `RASCS_ReAuthenticate` (13): authenticating again after a callback.
    case reAuthenticate = 13
    /// `RASCS_Authenticated` (14): authentication succeeded.
    case authenticated = 14
    /// `RASCS_PrepareForCallback` (15): dropping the line for a callback.
    case prepareForCallback = 15
    /// `RASCS_WaitForModemReset` (16): letting the modem reset before a callback.
    case waitForModemReset = 16
    /// `RASCS_WaitForCallback` (17): waiting for the server's call.
    case waitForCallback = 17
    /// `RASCS_Projected` (18): projection results are ready.
    case projected = 18
    /// `RASCS_StartAuthentication` (19): Windows 9x only.
    case startAuthentication = 19
    /// `RASCS_CallbackComplete` (20): Windows 9x only.
    case callbackComplete = 20
    /// `RASCS_LogonNetwork` (21): Windows 9x only.
    case logonNetwork = 21
    /// `RASCS_SubEntryConnected` (22): multilink, one link is up.
    case subEntryConnected = 22
    /// `RASCS_SubEntryDisconnected` (23): multilink, one link is down.
    case subEntryDisconnected = 23
    /// `RASCS_ApplySettings` (24): Windows 7+, multilink, just before ``subEntryConnected``.
    case applySettings = 24
    /// `RASCS_Interactive` (0x1000): paused for a terminal or script.
    case interactive = 0x1000
    /// `RASCS_RetryAuthentication` (0x1001): paused for new credentials.
    case retryAuthentication = 0x1001
    /// `RASCS_CallbackSetByCaller` (0x1002): paused for a callback number.
    case callbackSetByCaller = 0x1002
    /// `RASCS_PasswordExpired` (0x1003): paused for a new password.
    case passwordExpired = 0x1003
    /// `RASCS_InvokeEapUI` (0x1004): paused for the EAP user interface.
    case invokeEapUI = 0x1004
    /// `RASCS_Connected` (0x2000): the connection succeeded (terminal).
    case connected = 0x2000
    /// `RASCS_Disconnected` (0x2001): disconnected **or failed** (terminal).
    case disconnected = 0x2001

    /// The RAS name without the `RASCS_` prefix, e.g. `"OpenPort"` or `"Connected"`.
    public var name: String {
        switch self {
        case .openPort: "OpenPort"
        case .portOpened: "PortOpened"
        case .connectDevice: "ConnectDevice"
        case .deviceConnected: "DeviceConnected"
        case .allDevicesConnected: "AllDevicesConnected"
        case .authenticate: "Authenticate"
        case .authNotify: "AuthNotify"
        case .authRetry: "AuthRetry"
        case .authCallback: "AuthCallback"
        case .authChangePassword: "AuthChangePassword"
        case .authProject: "AuthProject"
        case .authLinkSpeed: "AuthLinkSpeed"
        case .authAck: "AuthAck"
        case .reAuthenticate: "ReAuthenticate"
        case .authenticated: "Authenticated"
        case .prepareForCallback: "PrepareForCallback"
        case .waitForModemReset: "WaitForModemReset"
        case .waitForCallback: "WaitForCallback"
        case .projected: "Projected"
        case .startAuthentication: "StartAuthentication"
        case .callbackComplete: "CallbackComplete"
        case .logonNetwork: "LogonNetwork"
        case .subEntryConnected: "SubEntryConnected"
        case .subEntryDisconnected: "SubEntryDisconnected"
        case .applySettings: "ApplySettings"
        case .interactive: "Interactive"
        case .retryAuthentication: "RetryAuthentication"
        case .callbackSetByCaller: "CallbackSetByCaller"
        case .passwordExpired: "PasswordExpired"
        case .invokeEapUI: "InvokeEapUI"
        case .connected: "Connected"
        case .disconnected: "Disconnected"
        }
    }

    /// The C constant name, e.g. `"RASCS_OpenPort"`.
    public var symbolicName: String { "RASCS_" + name }

    /// The state whose ``name`` matches `name`, ignoring case; a `RASCS_` prefix is allowed.
    public init?(name: String) {
        var bare = Substring(name)
        if bare.lowercased().hasPrefix("rascs_") { bare = bare.dropFirst(6) }
        let wanted = bare.lowercased()
        guard let state = Self.allCases.first(where: { $0.name.lowercased() == wanted }) else { return nil }
        self = state
    }

    /// True for ``connected`` and ``disconnected``: RAS notifications stop there.
    public var isTerminal: Bool { self == .connected || self == .disconnected }

    /// True for the paused states 0x1000…0x1004 (`RASCS_PAUSED`).
    public var isPaused: Bool { rawValue & 0x1000 != 0 && rawValue < 0x2000 }

    /// The name and number, e.g. `"OpenPort (0)"` or `"Connected (8192)"`.
    public var description: String { "\(name) (\(rawValue))" }
}
