import Glibc

/// The RS-232 modem-control lines.
public struct ModemLines: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// Data Terminal Ready (output): the modem hangs up when it drops (with `&D2`).
    public static let dtr = ModemLines(rawValue: TIOCM_DTR)
    /// Request To Send (output).
    public static let rts = ModemLines(rawValue: TIOCM_RTS)
    /// Data Carrier Detect (input): the modem has a carrier (with `&C1`).
    public static let dcd = ModemLines(rawValue: TIOCM_CAR)
    /// Data Set Ready (input).
    public static let dsr = ModemLines(rawValue: TIOCM_DSR)
    /// Clear To Send (input).
    public static let cts = ModemLines(rawValue: TIOCM_CTS)
    /// Ring Indicator (input).
    public static let ri = ModemLines(rawValue: TIOCM_RNG)

    /// The lines a computer may set.
    public static let outputs: ModemLines = [.dtr, .rts]

    public var description: String {
        let names: [(ModemLines, String)] = [(.dtr, "DTR"), (.rts, "RTS"), (.dcd, "DCD"), (.dsr, "DSR"), (.cts, "CTS"), (.ri, "RI")]
        return "[" + names.filter { contains($0.0) }.map(\.1).joined(separator: " ") + "]"
    }
}

/// How a DTR drop was carried out.
public enum DTRDropMethod: String, Sendable {
    /// The DTR line itself was cleared and raised again (`TIOCMBIC`/`TIOCMBIS`).
    case modemLine
    /// The device has no modem lines (a pseudo-terminal): the speed was set to B0 and
    /// restored, which is how termios spells "hang up" and what a fake modem watches for.
    case speedZero
    /// A terminal server was asked to clear DTR and raise it again (RFC 2217 SET-CONTROL).
    case remoteControl
}
