/// Whether a port will be probed, and why.
public struct ProbeDecision: Sendable, Hashable, Codable {
    /// Why.
    public enum Reason: String, Sendable, Hashable, Codable {
        /// Our rules tagged it (`ID_SWIFT_RAS_CANDIDATE=1`): a known modem or adapter.
        case ruleCandidate
        /// A `cdc_acm` interface that declares V.250 AT commands (class 2/2/1) — real USB
        /// modems, but also many devices that are not (GPS receivers, Arduino boards).
        case atCommandInterface
        /// A driver that serves only modems (`option`, `qcserial`, `sierra`, `hso`).
        case modemDriver
        /// The caller asked to probe every serial port (``CandidatePolicy/Scope/allPorts``).
        case allPortsRequested
        /// A rule said never to open it (`ID_SWIFT_RAS_IGNORE=1`).
        case ignoredByRule
        /// A rule says the port speaks something else than AT (`ID_SWIFT_RAS_PORT_TYPE`
        /// `qcdm` or `gps`).
        case notAnATPort
        /// Nothing marks it as a modem (a plain adapter or built-in UART nobody tagged):
        /// left alone unless every port is asked for.
        case notACandidate
        /// A virtual tty or an 8250 port without a UART (see ``Exclusion``).
        case excluded
    }

    /// Whether the port will be probed.
    public var willProbe: Bool
    /// Why.
    public var reason: Reason

    /// Creates a decision.
    public init(willProbe: Bool, reason: Reason) {
        self.willProbe = willProbe
        self.reason = reason
    }
}

/// Which ports the AT probe may open.
///
/// By default only ports that something marks as a modem are touched, because sending
/// `AT` to whatever sits on a serial port is what users hold against ModemManager (it
/// resets Arduino boards, steals GPS receivers): ports our udev rules tagged, CDC-ACM
/// interfaces that declare AT commands, and ports of modem-only drivers. Platform and
/// PCI UARTs and plain USB adapters are probed only when tagged by a rule, or with
/// ``Scope/allPorts`` (like wvdialconf, for an RS-232 modem nobody described). A port a
/// rule marks `ID_SWIFT_RAS_IGNORE=1`, or as a diagnostics/GPS port, is never opened.
public struct CandidatePolicy: Sendable, Hashable {
    /// Which ports are probed.
    public enum Scope: String, Sendable, Hashable, Codable {
        /// Ports marked as modems (see the type's discussion).
        case candidates
        /// Every serial port not ignored by a rule.
        case allPorts
    }

    /// Which ports are probed.
    public var scope: Scope

    /// A policy for `scope`.
    public init(scope: Scope = .candidates) {
        self.scope = scope
    }

    /// Drivers that drive nothing but modems.
    public static let modemDrivers: Set<String> = ["option", "qcserial", "sierra", "hso"]

    /// The decision for one port.
    public func decision(for device: SerialDevice) -> ProbeDecision {
        let hints = device.hints
        if device.exclusion != nil { return ProbeDecision(willProbe: false, reason: .excluded) }
        if hints.isIgnored { return ProbeDecision(willProbe: false, reason: .ignoredByRule) }
        if hints.portType == .qcdm || hints.portType == .gps {
            return ProbeDecision(willProbe: false, reason: .notAnATPort)
        }
        if hints.isCandidate { return ProbeDecision(willProbe: true, reason: .ruleCandidate) }
        if device.driver == "cdc_acm", device.usb?.declaresATCommands == true {
            return ProbeDecision(willProbe: true, reason: .atCommandInterface)
        }
        if let driver = device.driver, Self.modemDrivers.contains(driver) {
            return ProbeDecision(willProbe: true, reason: .modemDriver)
        }
        if scope == .allPorts { return ProbeDecision(willProbe: true, reason: .allPortsRequested) }
        return ProbeDecision(willProbe: false, reason: .notACandidate)
    }
}
